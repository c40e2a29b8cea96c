#include "tokrl/io/tfevents.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <system_error>

#include "tokrl/core/check.h"
#include "tokrl/io/atomic_file.h"

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

// ---- The Event protobuf, by hand ------------------------------------------
// TensorBoard's event.proto / summary.proto, the fields tokrl writes and
// reads (the numbers are the wire format: see the header):
//   Event      1 wall_time double, 2 step int64, 3 file_version string,
//              5 summary Summary, 7 session_log SessionLog (one of 3, 5, 7)
//   Summary    1 value repeated Value
//   Value      1 tag string, 2 simple_value float (in a oneof: always
//              written, so 0 survives)
//   SessionLog 1 status enum (START = 1)
// proto3 leaves scalar fields at 0 out, as protobuf's serializer does.
enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kBytes = 2,
  kFixed32 = 5
};

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void PutTag(std::string& out, uint32_t field, WireType type) {
  PutVarint(out, (field << 3) | type);
}

void PutBytes(std::string& out, uint32_t field, std::string_view bytes) {
  PutTag(out, field, kBytes);
  PutVarint(out, bytes.size());
  out.append(bytes);
}

// The Event header fields (wall_time, step) shared by every event.
std::string EventHeader(double wall_time, int64_t step) {
  std::string out;
  if (wall_time != 0) {
    uint64_t bits;
    std::memcpy(&bits, &wall_time, sizeof(bits));
    PutTag(out, 1, kFixed64);
    AppendLe(out, bits, 8);
  }
  if (step != 0) {
    PutTag(out, 2, kVarint);
    PutVarint(out, static_cast<uint64_t>(step));
  }
  return out;
}

// One field of a message: its number, wire type and payload.
struct WireField {
  uint32_t number = 0;
  uint32_t type = 0;
  uint64_t value = 0;      // varint, fixed64 and fixed32 payloads
  std::string_view bytes;  // length-delimited payloads
};

// Reads a message's fields in order: nullopt at the end or on malformed
// bytes (then ok() is false).
class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}
  bool ok() const { return ok_; }
  std::optional<WireField> Next() {
    if (!ok_ || data_.empty()) return std::nullopt;
    uint64_t key = 0;
    if (!Varint(&key) || (key >> 3) == 0 || (key >> 3) > (1u << 29)) {
      return Fail();
    }
    WireField f;
    f.number = static_cast<uint32_t>(key >> 3);
    f.type = static_cast<uint32_t>(key & 7);
    switch (f.type) {
      case kVarint:
        if (!Varint(&f.value)) return Fail();
        break;
      case kFixed64:
      case kFixed32: {
        const size_t n = f.type == kFixed64 ? 8 : 4;
        if (data_.size() < n) return Fail();
        f.value = DecodeLe(data_.substr(0, n));
        data_.remove_prefix(n);
        break;
      }
      case kBytes: {
        uint64_t n = 0;
        if (!Varint(&n) || n > data_.size()) return Fail();
        f.bytes = data_.substr(0, n);
        data_.remove_prefix(n);
        break;
      }
      default:
        return Fail();  // groups (3, 4) and invalid types
    }
    return f;
  }

 private:
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (data_.empty()) return false;
      const auto byte = static_cast<unsigned char>(data_.front());
      data_.remove_prefix(1);
      *v |= uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80u) == 0) return true;
    }
    return false;
  }
  std::optional<WireField> Fail() {
    ok_ = false;
    return std::nullopt;
  }
  std::string_view data_;
  bool ok_ = true;
};

// Parses one Event into `file`; false if the bytes are not an Event.
bool ParseEvent(std::string_view data, TfEventsFile& file) {
  double wall_time = 0;
  int64_t step = 0;
  enum { kNone, kVersion, kSummary, kSession } what = kNone;
  std::string_view payload;
  WireReader event(data);
  while (const auto f = event.Next()) {
    if (f->number == 1 && f->type == kFixed64) {
      std::memcpy(&wall_time, &f->value, sizeof(wall_time));
    } else if (f->number == 2 && f->type == kVarint) {
      step = static_cast<int64_t>(f->value);
    } else if (f->type == kBytes &&
               (f->number == 3 || f->number == 5 || f->number == 7)) {
      what = f->number == 3 ? kVersion : f->number == 5 ? kSummary : kSession;
      payload = f->bytes;
    }
  }
  if (!event.ok()) return false;
  if (what == kVersion) file.file_version = std::string(payload);
  if (what == kSummary) {
    WireReader summary(payload);
    while (const auto v = summary.Next()) {
      if (v->number != 1 || v->type != kBytes) continue;
      std::string_view tag;
      std::optional<float> simple;
      WireReader value(v->bytes);
      while (const auto g = value.Next()) {
        if (g->number == 1 && g->type == kBytes) tag = g->bytes;
        if (g->number == 2 && g->type == kFixed32) {
          const auto bits = static_cast<uint32_t>(g->value);
          float x;
          std::memcpy(&x, &bits, sizeof(x));
          simple = x;
        }
      }
      if (!value.ok()) return false;
      if (simple) {
        file.scalars.push_back({.wall_time = wall_time,
                                .step = step,
                                .tag = std::string(tag),
                                .value = *simple});
      }
    }
    if (!summary.ok()) return false;
  }
  if (what == kSession) {
    uint64_t status = 0;
    WireReader session(payload);
    while (const auto g = session.Next()) {
      if (g->number == 1 && g->type == kVarint) status = g->value;
    }
    if (!session.ok()) return false;
    if (status == 1) file.session_starts.push_back(step);  // START
  }
  return true;
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

  std::string event = EventHeader(now, 0);
  PutBytes(event, 3, "brain.Event:2");
  try {
    WriteEvent(event);
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
  std::string summary_value;
  if (!tag.empty()) PutBytes(summary_value, 1, tag);
  const auto x = static_cast<float>(value);
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  PutTag(summary_value, 2, kFixed32);
  AppendLe(summary_value, bits, 4);
  std::string summary;
  PutBytes(summary, 1, summary_value);
  std::string event = EventHeader(wall_time, step);
  PutBytes(event, 5, summary);
  WriteEvent(event);
}

void TfEventsWriter::AddSessionStart(int64_t step) {
  std::string session_log;
  PutTag(session_log, 1, kVarint);
  PutVarint(session_log, 1);  // START
  std::string event = EventHeader(NowSeconds(), step);
  PutBytes(event, 7, session_log);
  WriteEvent(event);
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
    if (!ParseEvent(data, result)) {
      FailCorrupt(path, offset, "data is not a valid Event protobuf");
    }
    offset += kHeaderBytes + length + kFooterBytes;
  }
  return result;
}

}  // namespace tokrl::io
