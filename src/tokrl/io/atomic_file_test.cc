#include "tokrl/io/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <functional>
#include <string>

#include "tokrl/core/check.h"
#include "tokrl/core/testing.h"

namespace tokrl::io {
namespace {

namespace fs = std::filesystem;

// A fresh, empty directory per test, removed afterwards.
class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("tokrl_atomic_" + std::string(info->name()) + "_" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add);
    fs::remove_all(dir_);
  }
  // Number of directory entries (to spot leftover temporary files).
  int CountEntries() const {
    int n = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir_)) ++n;
    return n;
  }

  fs::path dir_;
};

TEST_F(AtomicFileTest, RoundTripAndReplace) {
  const fs::path file = dir_ / "a.bin";
  std::string bytes = "hello";
  bytes.push_back('\0');
  bytes += "\xff\n binary";
  WriteFileAtomic(file, bytes);
  EXPECT_EQ(ReadFile(file), bytes);

  WriteFileAtomic(file, "second, longer version of the contents");
  EXPECT_EQ(ReadFile(file), "second, longer version of the contents");
  WriteFileAtomic(file, "");
  EXPECT_EQ(ReadFile(file), "");
  EXPECT_EQ(CountEntries(), 1);  // no temporary files left behind
}

TEST_F(AtomicFileTest, LargeContents) {
  std::string bytes(3 << 20, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7);
  WriteFileAtomic(dir_ / "big", bytes);
  EXPECT_EQ(ReadFile(dir_ / "big"), bytes);
}

TEST_F(AtomicFileTest, NewFilePermissionsFollowUmask) {
  const mode_t old_mask = ::umask(022);
  WriteFileAtomic(dir_ / "p", "x");
  ::umask(old_mask);
  EXPECT_EQ(fs::status(dir_ / "p").permissions(),
            fs::perms::owner_read | fs::perms::owner_write |
                fs::perms::group_read | fs::perms::others_read);
}

TEST_F(AtomicFileTest, TargetIsDirectoryThrowsAndCleansUp) {
  fs::create_directories(dir_ / "sub" / "child");
  const std::string error =
      ErrorOf([&] { WriteFileAtomic(dir_ / "sub", "data"); });
  EXPECT_NE(error.find("cannot write"), std::string::npos) << error;
  EXPECT_NE(error.find((dir_ / "sub").string()), std::string::npos) << error;
  EXPECT_TRUE(fs::is_directory(dir_ / "sub" / "child"));
  EXPECT_EQ(CountEntries(), 1);
}

TEST_F(AtomicFileTest, MissingParentDirectoryThrows) {
  const fs::path file = dir_ / "no_such_dir" / "f.txt";
  const std::string error = ErrorOf([&] { WriteFileAtomic(file, "data"); });
  EXPECT_NE(error.find(file.string()), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(file));
}

TEST_F(AtomicFileTest, ReadOnlyDirectoryKeepsOldFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  const fs::path file = dir_ / "f.txt";
  WriteFileAtomic(file, "old contents");
  fs::permissions(dir_, fs::perms::owner_write, fs::perm_options::remove);
  const std::string error = ErrorOf([&] { WriteFileAtomic(file, "new"); });
  fs::permissions(dir_, fs::perms::owner_write, fs::perm_options::add);
  EXPECT_NE(error.find(file.string()), std::string::npos) << error;
  EXPECT_EQ(ReadFile(file), "old contents");
  EXPECT_EQ(CountEntries(), 1);
}

// A write that fails half-way (here: the file size limit, which also applies
// to root) must leave the old file complete and no temporary file behind.
TEST_F(AtomicFileTest, FailureMidWriteKeepsOldFile) {
  const fs::path file = dir_ / "f.txt";
  WriteFileAtomic(file, "old contents");

  rlimit old_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit small = old_limit;
  small.rlim_cur = 64;
  auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const std::string error =
      ErrorOf([&] { WriteFileAtomic(file, std::string(100000, 'n')); });
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  std::signal(SIGXFSZ, old_handler);

  EXPECT_NE(error.find("cannot write '" + file.string() + "'"),
            std::string::npos)
      << error;
  EXPECT_EQ(ReadFile(file), "old contents");
  EXPECT_EQ(CountEntries(), 1);
}

TEST_F(AtomicFileTest, ReadErrorsNameThePath) {
  const fs::path missing = dir_ / "missing.txt";
  std::string error = ErrorOf([&] { ReadFile(missing); });
  EXPECT_NE(error.find("cannot read '" + missing.string() + "'"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("No such file"), std::string::npos) << error;

  error = ErrorOf([&] { ReadFile(dir_); });
  EXPECT_NE(error.find(dir_.string()), std::string::npos) << error;
  EXPECT_NE(error.find("directory"), std::string::npos) << error;
}

}  // namespace
}  // namespace tokrl::io
