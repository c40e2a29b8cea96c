// TensorBoard event files: a writer for scalar series and a verifying reader.
//
// File format (what TensorBoard's loader expects):
//   A file is a sequence of TFRecords. Each record is
//     uint64 length          little-endian, number of data bytes
//     uint32 length_crc      MaskCrc32c(Crc32c(the 8 length bytes)), LE
//     bytes  data[length]    a serialized TensorBoard Event protobuf (the
//                            fields tokrl uses are encoded by hand: see
//                            tfevents.cc)
//     uint32 data_crc        MaskCrc32c(Crc32c(data)), LE
//   The first record is an Event with file_version = "brain.Event:2". Each
//   scalar is an Event{wall_time, step, summary{value{tag, simple_value}}}.
//
// Writer:
//   TfEventsWriter writer("runs/x");           // creates runs/x if needed
//   writer.AddScalar("train/loss", 0.25, 1000);
//   writer.Flush();                             // visible to TensorBoard now
// The file is named events.out.tfevents.<unix seconds>.<hostname>, as
// TensorBoard's own writers name it; if that name is taken (two writers in
// the same second), ".1", ".2", ... is appended. A writer never modifies an
// existing file. Records are buffered; Flush() hands them to the OS and the
// destructor flushes too (ignoring errors there). All I/O errors are
// tokrl::Error naming the file. Not thread-safe.
//
// Reader:
//   ReadTfEvents(path) parses a whole file, checks both CRCs of every record,
//   and throws tokrl::Error naming the file and the byte offset of the bad
//   record on a CRC mismatch, a truncated record or an unparsable Event.
#ifndef TOKRL_IO_TFEVENTS_H_
#define TOKRL_IO_TFEVENTS_H_

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace tokrl::io {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, initial value and
// final xor 0xFFFFFFFF), as used by TFRecord. Crc32c("123456789") is
// 0xE3069283.
uint32_t Crc32c(std::string_view data);
// Continues a CRC: Crc32cExtend(Crc32c(a), b) == Crc32c(a + b).
uint32_t Crc32cExtend(uint32_t crc, std::string_view data);
// TFRecord stores CRCs masked: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t MaskCrc32c(uint32_t crc);
uint32_t UnmaskCrc32c(uint32_t masked_crc);

// Frames `data` as one TFRecord (length, length CRC, data, data CRC).
std::string FrameTfRecord(std::string_view data);

class TfEventsWriter {
 public:
  // Creates `dir` (and parents) if needed and a new event file in it holding
  // the file_version record. Throws tokrl::Error if that fails.
  explicit TfEventsWriter(const std::filesystem::path& dir);
  ~TfEventsWriter();
  TfEventsWriter(const TfEventsWriter&) = delete;
  TfEventsWriter& operator=(const TfEventsWriter&) = delete;

  // Appends one scalar. TensorBoard stores scalars as float32, so `value` is
  // rounded to float. wall_time is the current time.
  void AddScalar(std::string_view tag, double value, int64_t step);
  // Same with an explicit wall time (seconds since the Unix epoch).
  void AddScalar(std::string_view tag, double value, int64_t step,
                 double wall_time);
  // Appends a SessionLog START at `step`. TensorBoard's event accumulator
  // then discards data it already loaded with step >= `step`, which is what
  // a run resumed from a checkpoint wants: write it with the first step
  // after the checkpoint.
  void AddSessionStart(int64_t step);
  // Writes buffered records to the file (fflush-level, not fsync).
  void Flush();

  const std::filesystem::path& path() const { return path_; }

 private:
  void WriteEvent(const std::string& serialized_event);

  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

struct TfScalar {
  double wall_time = 0;
  int64_t step = 0;
  std::string tag;
  float value = 0;
};

struct TfEventsFile {
  // From the file_version record ("brain.Event:2"); empty if there is none.
  std::string file_version;
  // Every simple_value in file order (an Event may carry several). Summary
  // values of other kinds (images, histograms, tensors) are skipped.
  std::vector<TfScalar> scalars;
  // Steps of SessionLog START events, in file order.
  std::vector<int64_t> session_starts;
};

// Reads and verifies a whole event file. See the file comment for errors.
TfEventsFile ReadTfEvents(const std::filesystem::path& path);

}  // namespace tokrl::io

#endif  // TOKRL_IO_TFEVENTS_H_
