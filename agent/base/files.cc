#include "agent/base/files.h"

#include <fcntl.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"

namespace balloond {
namespace {

class FirstErrorCollector final : public google::protobuf::io::ErrorCollector {
 public:
  explicit FirstErrorCollector(absl::string_view file) : file_(file) {}
  void AddError(int line, int column, const std::string& message) override {
    if (error_.empty()) error_ = absl::StrCat(file_, ":", line + 1, ":", column + 1, ": ", message);
  }
  const std::string& error() const { return error_; }

 private:
  std::string file_;
  std::string error_;
};

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

absl::Status EnsureDirectory(const std::string& path, absl::string_view what) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", what, " ", path, ": ", ec.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    // An ifstream opens a directory and reads nothing: that would pass for an empty file.
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", path, ": it is a directory"));
  }
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    const std::string why = absl::StrCat("cannot read ", path, ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(why);
    if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(why);
    return absl::UnavailableError(why);
  }
  absl::Cleanup close_fd = [fd] { close(fd); };
  std::string text;
  char buffer[16 << 10];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n == 0) return text;
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
    }
    text.append(buffer, static_cast<size_t>(n));
  }
}

absl::StatusOr<std::optional<std::string>> ReadSavedState(const std::string& path,
                                                          absl::string_view what) {
  auto text = ReadWholeFile(path);
  if (text.ok()) return std::optional<std::string>(std::move(*text));
  if (text.status().code() == absl::StatusCode::kNotFound) return std::optional<std::string>();
  return absl::Status(text.status().code(),
                      absl::StrCat(text.status().message(), " (", what,
                                   "); balloond does not start without it, lest it be overwritten: "
                                   "make it readable, or remove it to start afresh"));
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& contents,
                                 mode_t mode) {
  // A temporary name of its own, created exclusively: nothing already at a predictable name (a
  // symbolic link planted beside the state file, say) is ever opened or written through.
  std::string tmp = path + ".XXXXXX";
  const int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot create a temporary file beside", path);
  bool renamed = false;
  absl::Cleanup cleanup = [&] {
    close(fd);
    if (!renamed) unlink(tmp.c_str());
  };
  if (fchmod(fd, mode) != 0) return ErrnoError("cannot set the mode of", tmp);
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", tmp);
    }
    written += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) return ErrnoError("cannot fsync", tmp);
  if (rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError("cannot rename to", path);
  renamed = true;
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);  // the rename itself must survive a crash
    close(dfd);
  }
  return absl::OkStatus();
}

absl::Status ParseTextFormat(absl::string_view text, absl::string_view file_name,
                             google::protobuf::Message& out) {
  google::protobuf::TextFormat::Parser parser;
  FirstErrorCollector errors(file_name);
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &out)) {
    return absl::InvalidArgumentError(
        errors.error().empty() ? absl::StrCat(file_name, ": cannot parse") : errors.error());
  }
  return absl::OkStatus();
}

absl::Status SaveTextProto(const std::string& path, const google::protobuf::Message& message,
                           absl::string_view what) {
  std::string text;
  if (!google::protobuf::TextFormat::PrintToString(message, &text)) {
    return absl::InternalError(absl::StrCat("cannot print ", what));
  }
  if (absl::Status s = WriteFileAtomically(path, text); !s.ok()) {
    return absl::UnavailableError(absl::StrCat(what, " was not changed: ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace balloond
