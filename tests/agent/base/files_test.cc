#include "agent/base/files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "balloon/v1/balloon.pb.h"
#include "tests/agent/base/temp_dir.h"

namespace balloond {
namespace {

using ::testing::HasSubstr;

class FilesTest : public ::testing::Test {
 protected:
  FilesTest() {}
  testing::TempDir temp_{"files-test"};
  std::string dir_ = temp_.path();
};

TEST_F(FilesTest, WhatIsWrittenAtomicallyIsReadWhole) {
  const std::string path = dir_ + "/a.txt";
  ASSERT_TRUE(WriteFileAtomically(path, std::string("one\0two\n", 8)).ok());
  auto text = ReadWholeFile(path);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, std::string("one\0two\n", 8));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1)
      << "no temporary file is left";
}

// A symbolic link planted where a fixed temporary name would be is never written through, and the
// file gets the mode asked for.
TEST_F(FilesTest, AWriteNeverFollowsALinkBesideTheFile) {
  const std::string victim = dir_ + "/victim";
  ASSERT_TRUE(WriteFileAtomically(victim, "untouched").ok());
  const std::string path = dir_ + "/policy.textproto";
  std::filesystem::create_symlink(victim, path + ".tmp");
  ASSERT_TRUE(WriteFileAtomically(path, "secret", 0600).ok());
  EXPECT_EQ(ReadWholeFile(victim).value(), "untouched");
  EXPECT_EQ(ReadWholeFile(path).value(), "secret");
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms(0600));
}

TEST_F(FilesTest, AMissingFileAndADirectoryAreErrorsNamingThePath) {
  auto missing = ReadWholeFile(dir_ + "/none");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(dir_ + "/none: No such file"));
  // An ifstream would open a directory and read nothing, like an empty config file.
  auto directory = ReadWholeFile(dir_);
  EXPECT_EQ(directory.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(directory.status().message(), HasSubstr("is a directory"));
}

// Only "no such file" means a file is absent: anything else that stops a read is an error of its
// own kind, and saved state that cannot be read is not taken for none.
TEST_F(FilesTest, OnlyAMissingFileIsNotFound) {
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/file", "x").ok());
  auto not_a_directory = ReadWholeFile(dir_ + "/file/below");
  EXPECT_EQ(not_a_directory.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(not_a_directory.status().message(), HasSubstr("Not a directory"));
  auto none = ReadSavedState(dir_ + "/never-saved", "the holds");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto saved = ReadSavedState(dir_ + "/file", "the holds");
  ASSERT_TRUE(saved.ok());
  EXPECT_EQ(**saved, "x");
  auto unreadable = ReadSavedState(dir_ + "/file/below", "the holds");
  ASSERT_FALSE(unreadable.ok());
  EXPECT_THAT(unreadable.status().message(), HasSubstr("(the holds)"));
}

TEST_F(FilesTest, ATextProtoThatCannotBeSavedSaysWhatWasNotChanged) {
  balloon::v1::Policy policy;
  policy.set_mode(balloon::v1::POLICY_MODE_ENFORCE);
  ASSERT_TRUE(SaveTextProto(dir_ + "/p.textproto", policy, "the policy").ok());
  EXPECT_THAT(*ReadWholeFile(dir_ + "/p.textproto"), HasSubstr("POLICY_MODE_ENFORCE"));
  absl::Status s = SaveTextProto(dir_ + "/no/such/dir/p.textproto", policy, "the policy");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("the policy was not changed"));
}

}  // namespace
}  // namespace balloond
