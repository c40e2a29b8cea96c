// Interventions on a Q-network's parameters during training, for the
// paper's "calling all experts" study (DFT section 6; paper.md 4.4): can
// resetting or shrink-and-perturbing the experts make them less redundant?
//
//   reset            theta <- theta_fresh for the chosen groups, and their
//                    Adam moments set to 0 (the step count stays: it is
//                    shared, as in Optax)
//   shrink-perturb   theta <- shrink * theta + perturb * theta_fresh
//                    (Ash & Adams 2020, with the fresh draw as the noise;
//                    Adam state kept)
// theta_fresh: a newly initialised network (the same init as at the start)
// drawn with a seed derived from the run seed and the env step, with the
// global torch generator saved and restored around it, so an intervention
// takes nothing from the training streams and a resumed run repeats it
// exactly. Only the online network changes; the target follows at its next
// sync. Both are off by default; the trainer logs events/reset and
// events/shrink_perturb rows (value 1) when they happen. Nothing happens at
// train.total_steps itself (a period that divides it): the final evaluation
// measures the trained network.
//
// Groups (names of QNetwork parameters):
//   experts      SoftMoE / MoE expert MLPs   ("penultimate.experts.*")
//   router       SoftMoE Phi and scale, MoE router ("penultimate.phi",
//                "penultimate.scale", "penultimate.router")
//   penultimate  the whole penultimate layer ("penultimate.*")
//   head         the Q head ("head.*")
// A group that matches no parameter of the network (experts on a dense
// baseline) is an error naming it.
//
// The reset targets, periods and coefficients of DFT section 6 are unknown
// (paper.md 4.4); the defaults here are ours (shrink 0.8, perturb 0.2: a
// BBF-like interpolation towards a fresh init).
#ifndef TOKRL_AGENTS_INTERVENTIONS_H_
#define TOKRL_AGENTS_INTERVENTIONS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokrl/core/options_table.h"
#include "tokrl/nn/q_network.h"

namespace tokrl {

enum class ParamGroup { kExperts, kRouter, kPenultimate, kHead };

struct InterventionOptions {
  int64_t reset_every = 0;  // env steps; 0 = never
  std::vector<ParamGroup> reset_groups = {ParamGroup::kExperts};
  int64_t shrink_perturb_every = 0;  // env steps; 0 = never
  std::vector<ParamGroup> shrink_perturb_groups = {ParamGroup::kExperts};
  double shrink = 0.8;
  double perturb = 0.2;
};

// `interventions.<name>`.
const OptionsTable<InterventionOptions>& InterventionOptionsTable();

// "experts,router" -> groups (at least one, no repeats); throws tokrl::Error
// naming `key` and the valid names.
std::vector<ParamGroup> ParseParamGroups(std::string_view list,
                                         const std::string& key);
std::string ToString(const std::vector<ParamGroup>& groups);

// The names (QNetworkImpl::named_parameters) of the network's parameters in
// any of `groups`, in the network's order; throws tokrl::Error for a group
// that matches none.
std::vector<std::string> GroupParameterNames(
    const nn::QNetworkImpl& network, const std::vector<ParamGroup>& groups);

// A freshly initialised network with `options`, on the CPU, drawn with
// `seed`; the global torch generator's state is unchanged afterwards.
nn::QNetwork FreshNetwork(const nn::QNetworkOptions& options, uint64_t seed);

}  // namespace tokrl

#endif  // TOKRL_AGENTS_INTERVENTIONS_H_
