#include "tokrl/io/run_dir.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace tokrl::io::run_dir {
namespace {
namespace fs = std::filesystem;

TEST(RunDir, MoveAttemptAsideKeepsTheLockAndEarlierAttempts) {
  const fs::path dir = fs::temp_directory_path() /
                       ("tokrl_run_dir_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "attempt-1");
  std::ofstream(dir / "attempt-1" / kConfig) << "first";
  std::ofstream(dir / kConfig) << "second";
  std::ofstream(dir / kTrainLog) << "why it died";
  std::ofstream(dir / kLock) << "";
  fs::create_directories(dir / kCheckpointTmp);

  const fs::path aside = MoveAttemptAside(dir);
  EXPECT_EQ(aside, dir / "attempt-2");
  EXPECT_TRUE(fs::exists(aside / kConfig));
  EXPECT_TRUE(fs::exists(aside / kTrainLog));
  EXPECT_TRUE(fs::is_directory(aside / kCheckpointTmp));
  EXPECT_TRUE(fs::exists(dir / kLock));
  EXPECT_FALSE(fs::exists(aside / kLock));
  EXPECT_FALSE(fs::exists(dir / kConfig));
  std::string first;
  std::ifstream(dir / "attempt-1" / kConfig) >> first;
  EXPECT_EQ(first, "first");
  // Nothing left to move: the next attempt folder is empty.
  EXPECT_EQ(MoveAttemptAside(dir), dir / "attempt-3");
  EXPECT_TRUE(fs::is_empty(dir / "attempt-3"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tokrl::io::run_dir
