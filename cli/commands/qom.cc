// qom ls, qom get: read-only QOM queries.
#include <google/protobuf/util/json_util.h>

#include <memory>
#include <string>

#include "cli/commands/commands.h"
#include "cli/format.h"

namespace balloond::cli {
namespace {

namespace v1 = balloon::v1;

struct QomOptions {
  std::string domain;
  std::string path;
  std::string property;
};

int QomList(Session& session, const QomOptions& o) {
  v1::ListQomPropertiesRequest req;
  req.set_domain(o.domain);
  req.set_path(o.path);
  v1::ListQomPropertiesResponse resp;
  auto ctx = session.Context();
  return Show<v1::ListQomPropertiesResponse>(
      session, session.read().ListQomProperties(ctx.get(), req, &resp), resp, FormatQomProperties);
}

int QomGet(Session& session, const QomOptions& o) {
  v1::GetQomPropertyRequest req;
  req.set_domain(o.domain);
  req.set_path(o.path);
  req.set_property(o.property);
  v1::GetQomPropertyResponse resp;
  auto ctx = session.Context();
  // The value alone, as JSON: what a shell script wants from `qom get`.
  return Show<v1::GetQomPropertyResponse>(
      session, session.read().GetQomProperty(ctx.get(), req, &resp), resp,
      [](const v1::GetQomPropertyResponse& r) {
        std::string value;
        google::protobuf::util::JsonPrintOptions pretty;
        pretty.add_whitespace = true;
        (void)google::protobuf::util::MessageToJsonString(r.value(), &value, pretty);
        return value.empty() || value.back() != '\n' ? value + "\n" : value;
      });
}

}  // namespace

void AddQomCommands(CLI::App& app, CommandLine& cli) {
  auto* qom = app.add_subcommand(
      "qom",
      "Read-only QOM queries. They reach QEMU through libvirt's QMP passthrough, so libvirt marks "
      "the domain asked about \"tainted: custom monitor control commands issued\" (virsh dominfo) "
      "for the rest of its run; balloond itself never does this");
  qom->require_subcommand(1);
  auto o = std::make_shared<QomOptions>();
  auto* ls = qom->add_subcommand("ls", "List a QOM object's properties (qom-list)");
  ls->add_option("DOMAIN", o->domain)->required();
  ls->add_option("PATH", o->path, "e.g. /machine/peripheral")->required();
  ls->callback([&cli, o] { cli.Choose(true, [o](Session& s) { return QomList(s, *o); }); });
  auto* get = qom->add_subcommand("get", "Read one QOM property (qom-get)");
  get->add_option("DOMAIN", o->domain)->required();
  get->add_option("PATH", o->path)->required();
  get->add_option("PROPERTY", o->property)->required();
  get->callback([&cli, o] { cli.Choose(true, [o](Session& s) { return QomGet(s, *o); }); });
}

}  // namespace balloond::cli
