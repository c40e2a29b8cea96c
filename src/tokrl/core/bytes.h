// Minimal binary (de)serialization for checkpoint blobs of plain values.
//
// ByteWriter appends trivially copyable values and length-prefixed strings;
// ByteReader reads them back in the same order and throws tokrl::Error,
// naming `what` (the blob being read), when the blob is too short or a
// length is implausible. Native byte order: blobs are for resuming on the
// same kind of machine, not for exchange.
#ifndef TOKRL_CORE_BYTES_H_
#define TOKRL_CORE_BYTES_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "tokrl/core/check.h"

namespace tokrl {

class ByteWriter {
 public:
  template <typename T>
  ByteWriter& Put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(&value), sizeof(T));
    return *this;
  }
  ByteWriter& PutString(std::string_view s) {
    Put<uint64_t>(s.size());
    out_.append(s);
    return *this;
  }
  ByteWriter& PutBytes(const void* data, size_t size) {
    out_.append(static_cast<const char*>(data), size);
    return *this;
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

class ByteReader {
 public:
  ByteReader(std::string_view data, std::string what)
      : data_(data), what_(std::move(what)) {}

  template <typename T>
  T Get() {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    std::memcpy(&value, Take(sizeof(T)).data(), sizeof(T));
    return value;
  }
  std::string GetString() { return std::string(Take(Get<uint64_t>())); }
  void GetBytes(void* out, size_t size) {
    std::memcpy(out, Take(size).data(), size);
  }
  bool done() const { return pos_ == data_.size(); }
  void ExpectDone() const {
    if (!done())
      TOKRL_FAIL() << what_ << ": " << data_.size() - pos_
                   << " unexpected trailing bytes";
  }

 private:
  std::string_view Take(uint64_t size) {
    if (size > data_.size() - pos_) {
      TOKRL_FAIL() << what_ << " is truncated or corrupt (needed " << size
                   << " bytes at offset " << pos_ << " of " << data_.size()
                   << ")";
    }
    std::string_view out = data_.substr(pos_, size);
    pos_ += size;
    return out;
  }
  std::string_view data_;
  size_t pos_ = 0;
  std::string what_;
};

}  // namespace tokrl

#endif  // TOKRL_CORE_BYTES_H_
