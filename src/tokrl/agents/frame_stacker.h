// The last `stack` observations of each of N envs, as the network's input
// when acting: [N, stack * C, H, W], oldest frame first along the channel
// axis, and zeros in place of frames from before the episode's start. The
// same stacks the replay rebuilds at sample time (replay_buffer.h), so the
// network sees one kind of input when acting and when learning (Dopamine's
// stack_size = 4 on Atari). Torch-free.
#ifndef TOKRL_AGENTS_FRAME_STACKER_H_
#define TOKRL_AGENTS_FRAME_STACKER_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tokrl {

class FrameStacker {
 public:
  // frame_size: bytes of one observation (C*H*W); stack >= 1.
  FrameStacker(int num_envs, int64_t frame_size, int stack);

  // Env i's episode starts with `frame`: zeros, then it.
  void Reset(int env, std::span<const uint8_t> frame);
  // Env i's next frame in the same episode: the oldest one drops out.
  void Push(int env, std::span<const uint8_t> frame);
  // After a VecEnv step: each env's new frame from `obs` ([N, frame_size]),
  // pushed, or starting a new stack where `done` (VecEnv auto-reset).
  void Step(std::span<const uint8_t> obs, std::span<const uint8_t> done);
  // All envs start: Reset with each row of obs.
  void ResetAll(std::span<const uint8_t> obs);

  std::span<const uint8_t> stacked() const { return data_; }
  int stack() const { return stack_; }

  std::string Save() const;
  // Throws tokrl::Error on a blob of another shape or a corrupt one.
  void Load(std::string_view blob);

 private:
  int num_envs_;
  int64_t frame_size_;
  int stack_;
  std::vector<uint8_t> data_;  // [N, stack, frame_size]
};

}  // namespace tokrl

#endif  // TOKRL_AGENTS_FRAME_STACKER_H_
