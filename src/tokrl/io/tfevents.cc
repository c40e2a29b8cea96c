#include "tokrl/io/tfevents.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <climits>
#include <system_error>

#include "tokrl/core/check.h"
#include "tokrl/io/atomic_file.h"
#include "tokrl/io/event.pb.h"

namespace tokrl::io {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kCrc32cPolynomial = 0x82F63B78u;  // reflected Castagnoli
constexpr uint32_t kCrcMaskDelta = 0xa282ead8u;
constexpr size_t kHeaderBytes = 12;  // uint64 length + uint32 length CRC
constexpr size_t kFooterBytes = 4;   // uint32 data CRC

// One table lookup per byte. Event records are small and written at logging
// frequency, so slicing-by-8 or SSE4.2 would buy nothing measurable here.
constexpr std::array<uint32_t, 256> MakeCrc32cTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1u) ? (crc >> 1) ^ kCrc32cPolynomial : crc >> 1;
    }
    table[i] = crc;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrc32cTable = MakeCrc32cTable();

// Explicit little-endian coding, independent of the host byte order.
void AppendLe(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) {
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xffu));
  }
}

uint64_t DecodeLe(std::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    value |= uint64_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
  }
  return value;
}

std::string Hostname() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof(buffer) - 1) != 0 || buffer[0] == '\0') {
    return "localhost";
  }
  std::string name(buffer);
  // The host name becomes part of a file name.
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  return name;
}

double NowSeconds() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void FailIo(const fs::path& path, const char* step, int err) {
  TOKRL_FAIL() << "event file '" << path.string() << "': " << step << ": "
               << std::system_category().message(err);
}

[[noreturn]] void FailCorrupt(const fs::path& path, size_t offset,
                              const std::string& what) {
  TOKRL_FAIL() << "corrupt event file '" << path.string()
               << "': record at byte offset " << offset << ": " << what;
}

}  // namespace

uint32_t Crc32cExtend(uint32_t crc, std::string_view data) {
  uint32_t c = ~crc;
  for (const char byte : data) {
    c = kCrc32cTable[(c ^ static_cast<unsigned char>(byte)) & 0xffu] ^ (c >> 8);
  }
  return ~c;
}

uint32_t Crc32c(std::string_view data) { return Crc32cExtend(0, data); }

uint32_t MaskCrc32c(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + kCrcMaskDelta;
}

uint32_t UnmaskCrc32c(uint32_t masked_crc) {
  const uint32_t rotated = masked_crc - kCrcMaskDelta;
  return (rotated >> 17) | (rotated << 15);
}

std::string FrameTfRecord(std::string_view data) {
  std::string record;
  record.reserve(kHeaderBytes + data.size() + kFooterBytes);
  AppendLe(record, data.size(), 8);
  AppendLe(record, MaskCrc32c(Crc32c(record)), 4);
  record.append(data);
  AppendLe(record, MaskCrc32c(Crc32c(data)), 4);
  return record;
}

TfEventsWriter::TfEventsWriter(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    TOKRL_FAIL() << "cannot create event file directory '" << dir.string()
                 << "': " << ec.message();
  }
  const double now = NowSeconds();
  const std::string base = "events.out.tfevents." +
                           std::to_string(static_cast<int64_t>(now)) + "." +
                           Hostname();
  // O_EXCL: never append to (and so corrupt the framing of) a file another
  // writer owns, e.g. a second writer started within the same second.
  int fd = -1;
  for (int suffix = 0; fd < 0; ++suffix) {
    path_ = dir / (suffix == 0 ? base : base + "." + std::to_string(suffix));
    fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && (errno != EEXIST || suffix >= 1000)) {
      FailIo(path_, "cannot create", errno);
    }
  }
  file_ = ::fdopen(fd, "wb");
  if (file_ == nullptr) {
    const int err = errno;
    ::close(fd);
    FailIo(path_, "fdopen failed", err);
  }

  tb::Event event;
  event.set_wall_time(now);
  event.set_file_version("brain.Event:2");
  try {
    WriteEvent(event.SerializeAsString());
    Flush();
  } catch (...) {
    std::fclose(file_);
    throw;
  }
}

TfEventsWriter::~TfEventsWriter() {
  // Errors cannot be reported from a destructor; call Flush() first to see
  // them.
  std::fclose(file_);
}

void TfEventsWriter::AddScalar(std::string_view tag, double value,
                               int64_t step) {
  AddScalar(tag, value, step, NowSeconds());
}

void TfEventsWriter::AddScalar(std::string_view tag, double value, int64_t step,
                               double wall_time) {
  tb::Event event;
  event.set_wall_time(wall_time);
  event.set_step(step);
  tb::Summary::Value* summary_value = event.mutable_summary()->add_value();
  summary_value->set_tag(std::string(tag));
  summary_value->set_simple_value(static_cast<float>(value));
  WriteEvent(event.SerializeAsString());
}

void TfEventsWriter::AddSessionStart(int64_t step) {
  tb::Event event;
  event.set_wall_time(NowSeconds());
  event.set_step(step);
  event.mutable_session_log()->set_status(tb::SessionLog::START);
  WriteEvent(event.SerializeAsString());
}

void TfEventsWriter::Flush() {
  if (std::fflush(file_) != 0) FailIo(path_, "flush failed", errno);
}

void TfEventsWriter::WriteEvent(const std::string& serialized_event) {
  const std::string record = FrameTfRecord(serialized_event);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size()) {
    FailIo(path_, "write failed", errno);
  }
}

TfEventsFile ReadTfEvents(const fs::path& path) {
  const std::string bytes = ReadFile(path);
  const std::string_view view(bytes);
  TfEventsFile result;
  size_t offset = 0;
  while (offset < view.size()) {
    const size_t left = view.size() - offset;
    if (left < kHeaderBytes) {
      FailCorrupt(path, offset,
                  "truncated header (" + std::to_string(left) +
                      " bytes left, a record header needs 12)");
    }
    const std::string_view length_bytes = view.substr(offset, 8);
    const uint64_t length = DecodeLe(length_bytes);
    const auto length_crc =
        static_cast<uint32_t>(DecodeLe(view.substr(offset + 8, 4)));
    if (MaskCrc32c(Crc32c(length_bytes)) != length_crc) {
      FailCorrupt(path, offset, "length CRC mismatch");
    }
    const size_t after_header = left - kHeaderBytes;
    if (after_header < kFooterBytes || length > after_header - kFooterBytes) {
      FailCorrupt(path, offset,
                  "truncated record (data length " + std::to_string(length) +
                      ", but only " + std::to_string(left) +
                      " bytes left including header and CRCs)");
    }
    const std::string_view data = view.substr(offset + kHeaderBytes, length);
    const auto data_crc = static_cast<uint32_t>(
        DecodeLe(view.substr(offset + kHeaderBytes + length, 4)));
    if (MaskCrc32c(Crc32c(data)) != data_crc) {
      FailCorrupt(path, offset, "data CRC mismatch");
    }
    tb::Event event;
    if (length > static_cast<uint64_t>(INT_MAX) ||
        !event.ParseFromArray(data.data(), static_cast<int>(length))) {
      FailCorrupt(path, offset, "data is not a valid Event protobuf");
    }
    switch (event.what_case()) {
      case tb::Event::kFileVersion:
        result.file_version = event.file_version();
        break;
      case tb::Event::kSummary:
        for (const tb::Summary::Value& value : event.summary().value()) {
          if (value.value_case() != tb::Summary::Value::kSimpleValue) continue;
          result.scalars.push_back({.wall_time = event.wall_time(),
                                    .step = event.step(),
                                    .tag = value.tag(),
                                    .value = value.simple_value()});
        }
        break;
      case tb::Event::kSessionLog:
        if (event.session_log().status() == tb::SessionLog::START) {
          result.session_starts.push_back(event.step());
        }
        break;
      case tb::Event::WHAT_NOT_SET:
        break;
    }
    offset += kHeaderBytes + length + kFooterBytes;
  }
  return result;
}

}  // namespace tokrl::io
