#ifndef BALLOOND_TESTS_TESTDATA_H_
#define BALLOOND_TESTS_TESTDATA_H_

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "tests/paths.h"

namespace balloond::testing {

// The text of tests/testdata/RELATIVE; throws if it is missing so a test cannot pass on nothing.
inline std::string ReadTestData(const std::string& relative) {
  const std::string path = std::string(BALLOOND_TESTDATA_DIR) + "/" + relative;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("missing test data " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace balloond::testing

#endif  // BALLOOND_TESTS_TESTDATA_H_
