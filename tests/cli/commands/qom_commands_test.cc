// qom ls, qom get on mock stubs (command_test.h).
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "tests/cli/commands/command_test.h"

namespace balloond::cli {
namespace {

using ::testing::_;
using ::testing::DoAll;
using ::testing::HasSubstr;
using ::testing::Return;
using ::testing::SaveArg;
using ::testing::SetArgPointee;

using testing::CommandTest;
namespace v1 = balloon::v1;

class QomCommandsTest : public CommandTest {};

TEST_F(QomCommandsTest, LsListsTheObjectsProperties) {
  v1::ListQomPropertiesRequest asked;
  v1::ListQomPropertiesResponse props;
  auto* p = props.add_properties();
  p->set_name("balloon0");
  p->set_type("child<virtio-balloon-pci>");
  EXPECT_CALL(read_, ListQomProperties(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&asked), SetArgPointee<2>(props), Return(grpc::Status::OK)));
  Result r = Run({"qom", "ls", "web1", "/machine/peripheral"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(asked.domain(), "web1");
  EXPECT_EQ(asked.path(), "/machine/peripheral");
  EXPECT_THAT(r.out, HasSubstr("balloon0"));
  EXPECT_THAT(r.out, HasSubstr("child<virtio-balloon-pci>"));
  EXPECT_TRUE(read_write_) << "QOM queries are off on the read-only socket (they taint)";
}

TEST_F(QomCommandsTest, GetPrintsTheValueAloneAsJson) {
  v1::GetQomPropertyResponse value;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage("{\"stat-free-memory\": 1024}",
                                                          value.mutable_value())
                  .ok());
  EXPECT_CALL(read_, GetQomProperty(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(value), Return(grpc::Status::OK)));
  Result r = Run({"qom", "get", "web1", "/machine/peripheral/balloon0", "guest-stats"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"stat-free-memory\": 1024"));
  EXPECT_EQ(r.out.back(), '\n');
}

TEST_F(QomCommandsTest, APathBalloondRefusesIsExplained) {
  EXPECT_CALL(read_, GetQomProperty(_, _, _))
      .WillOnce(
          Return(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                              "/machine/peripheral/rng0/rng goes through a link<rng-backend>")));
  Result r = Run({"qom", "get", "web1", "/machine/peripheral/rng0/rng", "filename"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("link<rng-backend>"));
  EXPECT_THAT(r.err, HasSubstr("PERMISSION_DENIED"));
}

TEST_F(QomCommandsTest, QomNeedsItsSubcommandAndArguments) {
  Result r = Run({"qom", "get", "web1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("PATH"));
  EXPECT_FALSE(connected_);
}

}  // namespace
}  // namespace balloond::cli
