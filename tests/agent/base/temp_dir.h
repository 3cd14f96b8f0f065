#ifndef BALLOOND_TESTS_AGENT_BASE_TEMP_DIR_H_
#define BALLOOND_TESTS_AGENT_BASE_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace balloond::testing {

// A fresh directory /tmp/NAME-XXXXXX for one test, removed with all it holds when the test ends.
class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    std::string pattern = "/tmp/" + name + "-XXXXXX";
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;  // a test may have removed it already
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace balloond::testing

#endif  // BALLOOND_TESTS_AGENT_BASE_TEMP_DIR_H_
