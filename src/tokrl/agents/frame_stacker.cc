#include "tokrl/agents/frame_stacker.h"

#include <algorithm>
#include <cstring>

#include "tokrl/core/bytes.h"
#include "tokrl/core/check.h"

namespace tokrl {

FrameStacker::FrameStacker(int num_envs, int64_t frame_size, int stack)
    : num_envs_(num_envs), frame_size_(frame_size), stack_(stack) {
  TOKRL_CHECK(num_envs > 0 && frame_size > 0 && stack >= 1)
      << "FrameStacker(" << num_envs << ", " << frame_size << ", " << stack
      << ")";
  data_.assign(static_cast<size_t>(num_envs * frame_size * stack), 0);
}

void FrameStacker::Reset(int env, std::span<const uint8_t> frame) {
  TOKRL_DCHECK(static_cast<int64_t>(frame.size()) == frame_size_);
  uint8_t* row = data_.data() + static_cast<size_t>(env) * stack_ * frame_size_;
  std::fill(row, row + (stack_ - 1) * frame_size_, 0);
  std::memcpy(row + (stack_ - 1) * frame_size_, frame.data(), frame.size());
}

void FrameStacker::Push(int env, std::span<const uint8_t> frame) {
  TOKRL_DCHECK(static_cast<int64_t>(frame.size()) == frame_size_);
  uint8_t* row = data_.data() + static_cast<size_t>(env) * stack_ * frame_size_;
  std::memmove(row, row + frame_size_,
               static_cast<size_t>((stack_ - 1) * frame_size_));
  std::memcpy(row + (stack_ - 1) * frame_size_, frame.data(), frame.size());
}

void FrameStacker::Step(std::span<const uint8_t> obs,
                        std::span<const uint8_t> done) {
  TOKRL_CHECK(static_cast<int64_t>(obs.size()) == num_envs_ * frame_size_ &&
              static_cast<int>(done.size()) == num_envs_);
  for (int i = 0; i < num_envs_; ++i) {
    const auto frame = obs.subspan(static_cast<size_t>(i * frame_size_),
                                   static_cast<size_t>(frame_size_));
    if (done[static_cast<size_t>(i)]) {
      Reset(i, frame);
    } else {
      Push(i, frame);
    }
  }
}

void FrameStacker::ResetAll(std::span<const uint8_t> obs) {
  TOKRL_CHECK(static_cast<int64_t>(obs.size()) == num_envs_ * frame_size_);
  for (int i = 0; i < num_envs_; ++i) {
    Reset(i, obs.subspan(static_cast<size_t>(i * frame_size_),
                         static_cast<size_t>(frame_size_)));
  }
}

std::string FrameStacker::Save() const {
  ByteWriter w;
  w.Put(num_envs_).Put(frame_size_).Put(stack_);
  w.PutBytes(data_.data(), data_.size());
  return w.str();
}

void FrameStacker::Load(std::string_view blob) {
  ByteReader r(blob, "frame stacks");
  const int n = r.Get<int>();
  const auto size = r.Get<int64_t>();
  const int stack = r.Get<int>();
  TOKRL_CHECK(n == num_envs_ && size == frame_size_ && stack == stack_)
      << "saved frame stacks are " << n << " x " << stack << " x " << size
      << " bytes, this run's " << num_envs_ << " x " << stack_ << " x "
      << frame_size_;
  std::vector<uint8_t> data(data_.size());
  r.GetBytes(data.data(), data.size());
  r.ExpectDone();
  data_ = std::move(data);
}

}  // namespace tokrl
