#include "tokrl/io/tfevents.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "tokrl/core/check.h"
#include "tokrl/core/testing.h"
#include "tokrl/io/atomic_file.h"

namespace tokrl::io {
namespace {

namespace fs = std::filesystem;

class TfEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("tokrl_tfevents_" + std::string(info->name()) + "_" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
};

TEST(TfCrc32c, KnownVectors) {
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  // RFC 3720 (iSCSI) appendix B.4 test vectors.
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(Crc32c(ascending), 0x46DD794Eu);
}

TEST(TfCrc32c, ExtendAndMask) {
  const std::string text = "The quick brown fox jumps over the lazy dog";
  for (size_t split = 0; split <= text.size(); split += 5) {
    EXPECT_EQ(Crc32cExtend(Crc32c(text.substr(0, split)), text.substr(split)),
              Crc32c(text));
  }
  for (uint32_t crc : {0u, 1u, 0xE3069283u, 0xFFFFFFFFu, 0x80000000u}) {
    EXPECT_EQ(UnmaskCrc32c(MaskCrc32c(crc)), crc);
  }
  EXPECT_EQ(MaskCrc32c(0), 0xa282ead8u);
}

TEST(TfRecord, FramingLayout) {
  const std::string record = FrameTfRecord("abc");
  ASSERT_EQ(record.size(), 12u + 3u + 4u);
  EXPECT_EQ(record.substr(0, 8), std::string("\x03\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(record.substr(12, 3), "abc");
  const uint32_t data_crc = MaskCrc32c(Crc32c("abc"));
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(static_cast<unsigned char>(record[15 + i]),
              (data_crc >> (8 * i)) & 0xffu);
  }
  // Every TensorBoard event file starts with the 24-byte file_version event;
  // its header bytes are a well-known signature.
  EXPECT_EQ(FrameTfRecord(std::string(24, 'x')).substr(0, 12),
            std::string("\x18\0\0\0\0\0\0\0\xa3\x7f\x4b\x22", 12));
}

TEST_F(TfEventsTest, FileNameAndVersionRecord) {
  const auto before = std::chrono::system_clock::now();
  fs::path first;
  fs::path second;
  {
    TfEventsWriter writer(dir_);  // creates the directory
    TfEventsWriter other(dir_);   // same second: must not share the file
    first = writer.path();
    second = other.path();
  }
  EXPECT_NE(first, second);
  EXPECT_EQ(first.parent_path(), dir_);
  const std::string name = first.filename().string();
  ASSERT_EQ(name.rfind("events.out.tfevents.", 0), 0u) << name;
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof(host) - 1), 0);
  EXPECT_NE(name.find(std::string(".") + host), std::string::npos) << name;
  const int64_t seconds = std::stoll(name.substr(20));
  EXPECT_GE(seconds, std::chrono::duration_cast<std::chrono::seconds>(
                         before.time_since_epoch())
                             .count() -
                         1);

  const TfEventsFile file = ReadTfEvents(first);
  EXPECT_EQ(file.file_version, "brain.Event:2");
  EXPECT_TRUE(file.scalars.empty());
  EXPECT_EQ(ReadFile(first).size(), 12u + 24u + 4u);
}

TEST_F(TfEventsTest, RoundTripManyScalars) {
  const double t0 = std::chrono::duration<double>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  fs::path path;
  {
    TfEventsWriter writer(dir_);
    path = writer.path();
    for (int64_t step = 0; step < 2000; ++step) {
      writer.AddScalar("train/loss", 1.0 / (step + 1), step);
      writer.AddScalar("train/return", step * -0.5, step);
      if (step % 100 == 0) writer.Flush();
    }
    writer.AddScalar("zero", 0.0, 7);  // must survive proto3 defaults
    writer.AddScalar("explicit_time", 3.5, 9, 1234.25);
  }
  const TfEventsFile file = ReadTfEvents(path);
  EXPECT_EQ(file.file_version, "brain.Event:2");
  ASSERT_EQ(file.scalars.size(), 4002u);
  for (int64_t step = 0; step < 2000; ++step) {
    const TfScalar& loss = file.scalars[2 * step];
    const TfScalar& ret = file.scalars[2 * step + 1];
    EXPECT_EQ(loss.tag, "train/loss");
    EXPECT_EQ(loss.step, step);
    EXPECT_EQ(loss.value, static_cast<float>(1.0 / (step + 1)));
    EXPECT_EQ(ret.tag, "train/return");
    EXPECT_EQ(ret.value, static_cast<float>(step * -0.5));
    EXPECT_GE(loss.wall_time, t0 - 1);
    EXPECT_LE(loss.wall_time, t0 + 600);
  }
  EXPECT_EQ(file.scalars[4000].tag, "zero");
  EXPECT_EQ(file.scalars[4000].value, 0.0f);
  EXPECT_EQ(file.scalars[4000].step, 7);
  EXPECT_EQ(file.scalars[4001].wall_time, 1234.25);
}

// The exact bytes TensorBoard's Event/Summary protos expect for a scalar:
// pins the field numbers and the presence of a zero simple_value.
TEST_F(TfEventsTest, ScalarWireFormat) {
  fs::path path;
  {
    TfEventsWriter writer(dir_);
    path = writer.path();
    writer.AddScalar("a", 0.0, 5, 1.0);
  }
  const std::string bytes = ReadFile(path);
  const std::string expected_event(
      "\x09\0\0\0\0\0\0\xf0\x3f"  // wall_time = 1.0 (field 1, fixed64)
      "\x10\x05"                  // step = 5 (field 2, varint)
      "\x2a\x0a"                  // summary (field 5), 10 bytes
      "\x0a\x08"                  // value (field 1), 8 bytes
      "\x0a\x01"
      "a"              // tag = "a"
      "\x15\0\0\0\0",  // simple_value = 0.0f (field 2, fixed32)
      23);
  EXPECT_EQ(bytes.substr(40), FrameTfRecord(expected_event));
}

TEST_F(TfEventsTest, SessionStart) {
  fs::path path;
  {
    TfEventsWriter writer(dir_);
    path = writer.path();
    writer.AddScalar("x", 1, 10);
    writer.AddSessionStart(11);
  }
  const TfEventsFile file = ReadTfEvents(path);
  EXPECT_EQ(file.scalars.size(), 1u);
  EXPECT_EQ(file.session_starts, std::vector<int64_t>{11});
}

TEST_F(TfEventsTest, CorruptionIsDetectedWithOffset) {
  fs::path path;
  {
    TfEventsWriter writer(dir_);
    path = writer.path();
    // Steps from 1: a step of 0 is not serialized, so sizes would differ.
    for (int step = 1; step <= 10; ++step) writer.AddScalar("s", step, step);
  }
  const std::string good = ReadFile(path);
  const size_t first_size = 40;  // the file_version record
  const size_t scalar_size = (good.size() - first_size) / 10;
  const size_t third_scalar = first_size + 2 * scalar_size;
  const std::string where =
      Quoted(path) + ": record at byte offset " + std::to_string(third_scalar);

  std::string bad = good;
  bad[third_scalar + 12 + 3] ^= 0x01;  // a data byte
  WriteFileAtomic(path, bad);
  std::string error = ErrorOf([&] { ReadTfEvents(path); });
  EXPECT_NE(error.find(where), std::string::npos) << error;
  EXPECT_NE(error.find("data CRC mismatch"), std::string::npos) << error;

  bad = good;
  bad[third_scalar + 1] ^= 0x40;  // the length
  WriteFileAtomic(path, bad);
  error = ErrorOf([&] { ReadTfEvents(path); });
  EXPECT_NE(error.find(where), std::string::npos) << error;
  EXPECT_NE(error.find("length CRC mismatch"), std::string::npos) << error;

  bad = good;
  bad[good.size() - 1] ^= 0x80;  // the last data CRC
  WriteFileAtomic(path, bad);
  error = ErrorOf([&] { ReadTfEvents(path); });
  EXPECT_NE(error.find("offset " + std::to_string(good.size() - scalar_size)),
            std::string::npos)
      << error;

  // Truncated inside the last record's data, and inside a header.
  WriteFileAtomic(path, good.substr(0, good.size() - 5));
  error = ErrorOf([&] { ReadTfEvents(path); });
  EXPECT_NE(error.find("truncated record"), std::string::npos) << error;
  EXPECT_NE(error.find("offset " + std::to_string(good.size() - scalar_size)),
            std::string::npos)
      << error;
  WriteFileAtomic(path, good.substr(0, third_scalar + 7));
  error = ErrorOf([&] { ReadTfEvents(path); });
  EXPECT_NE(error.find(where), std::string::npos) << error;
  EXPECT_NE(error.find("truncated header"), std::string::npos) << error;

  // Correct CRCs around bytes that are not an Event.
  WriteFileAtomic(path, good + FrameTfRecord("\xff\xff\xff"));
  error = ErrorOf([&] { ReadTfEvents(path); });
  EXPECT_NE(error.find("not a valid Event"), std::string::npos) << error;
  EXPECT_NE(error.find("offset " + std::to_string(good.size())),
            std::string::npos)
      << error;

  // The untouched file still reads.
  WriteFileAtomic(path, good);
  EXPECT_EQ(ReadTfEvents(path).scalars.size(), 10u);
}

TEST_F(TfEventsTest, MissingFileNamesPath) {
  const std::string error = ErrorOf([&] { ReadTfEvents(dir_ / "nope"); });
  EXPECT_NE(error.find((dir_ / "nope").string()), std::string::npos) << error;
}

}  // namespace
}  // namespace tokrl::io
