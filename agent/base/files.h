#ifndef BALLOOND_AGENT_BASE_FILES_H_
#define BALLOOND_AGENT_BASE_FILES_H_

#include <google/protobuf/message.h>
#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace balloond {

// The whole of the file at `path`. NOT_FOUND only when there is no such file; PERMISSION_DENIED
// when it may not be read, UNAVAILABLE when reading fails (EIO, say), each naming the path and the
// reason; INVALID_ARGUMENT for a directory.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

// Creates the directory `path` (and its parents) if it is missing. PERMISSION_DENIED naming it and
// the reason when it cannot; `what` says what the directory is for ("state directory").
absl::Status EnsureDirectory(const std::string& path, absl::string_view what);

// Writes `contents` to `path` atomically and durably: a temporary file of its own (created
// exclusively: never one already there), fsync, rename, fsync of the directory. The file gets
// `mode`. UNAVAILABLE naming the step that failed.
absl::Status WriteFileAtomically(const std::string& path, const std::string& contents,
                                 mode_t mode = 0644);

// The saved state at `path` (a file balloond wrote): its text, or nullopt when none was saved yet
// (no such file). Any other failure to read it is an error naming the file and `what` it holds:
// state that is there but unreadable must stop balloond, not be taken for none and overwritten.
absl::StatusOr<std::optional<std::string>> ReadSavedState(const std::string& path,
                                                          absl::string_view what);

// Parses protobuf text format into `out`; errors name FILE_NAME:LINE:COLUMN.
absl::Status ParseTextFormat(absl::string_view text, absl::string_view file_name,
                             google::protobuf::Message& out);

// Writes `message` in text format to `path` the same way; UNAVAILABLE saying "`what` was not
// changed" when it cannot.
absl::Status SaveTextProto(const std::string& path, const google::protobuf::Message& message,
                           absl::string_view what);

}  // namespace balloond

#endif  // BALLOOND_AGENT_BASE_FILES_H_
