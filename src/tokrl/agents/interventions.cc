#include "tokrl/agents/interventions.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <array>
#include <limits>
#include <mutex>
#include <sstream>

#include "tokrl/core/check.h"

namespace tokrl {
namespace {

struct GroupName {
  std::string_view name;
  ParamGroup group;
};
constexpr std::array<GroupName, 4> kGroups = {{
    {"experts", ParamGroup::kExperts},
    {"router", ParamGroup::kRouter},
    {"penultimate", ParamGroup::kPenultimate},
    {"head", ParamGroup::kHead},
}};

std::string_view Name(ParamGroup g) {
  for (const auto& e : kGroups) {
    if (e.group == g) return e.name;
  }
  return "?";
}

bool InGroup(const std::string& name, ParamGroup g) {
  const auto starts = [&](std::string_view prefix) {
    return name.rfind(prefix, 0) == 0;
  };
  switch (g) {
    case ParamGroup::kExperts:
      return starts("penultimate.experts.");
    case ParamGroup::kRouter:
      return name == "penultimate.phi" || name == "penultimate.scale" ||
             name == "penultimate.router";
    case ParamGroup::kPenultimate:
      return starts("penultimate.");
    case ParamGroup::kHead:
      return starts("head.");
  }
  return false;
}

OptionRow<InterventionOptions> GroupsRow(
    std::string name, std::vector<ParamGroup> InterventionOptions::*field,
    std::string help) {
  return {std::move(name), std::move(help),
          [field](const InterventionOptions& o) {
            return ConfigValue(ToString(o.*field));
          },
          [field](InterventionOptions& o, const ConfigValue& value,
                  const std::string& key) {
            o.*field = ParseParamGroups(std::get<std::string>(value), key);
          }};
}

}  // namespace

const OptionsTable<InterventionOptions>& InterventionOptionsTable() {
  using O = InterventionOptions;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  static const OptionsTable<O> table = {
      IntOption("reset_every", &O::reset_every, 0, kMax,
                "env steps between resets of reset_groups (0 = never)"),
      GroupsRow("reset_groups", &O::reset_groups,
                "comma list of experts | router | penultimate | head"),
      IntOption("shrink_perturb_every", &O::shrink_perturb_every, 0, kMax,
                "env steps between shrink-and-perturbs (0 = never)"),
      GroupsRow("shrink_perturb_groups", &O::shrink_perturb_groups,
                "comma list of experts | router | penultimate | head"),
      FloatOption("shrink", &O::shrink, 0.0, 1.0,
                  "shrink-and-perturb: theta <- shrink * theta + ..."),
      FloatOption("perturb", &O::perturb, 0.0, 1e6,
                  "... + perturb * theta_fresh"),
  };
  return table;
}

std::vector<ParamGroup> ParseParamGroups(std::string_view list,
                                         const std::string& key) {
  std::vector<ParamGroup> out;
  std::stringstream in{std::string(list)};
  for (std::string item; std::getline(in, item, ',');) {
    const auto b = item.find_first_not_of(' ');
    const auto e = item.find_last_not_of(' ');
    item = b == std::string::npos ? "" : item.substr(b, e - b + 1);
    bool found = false;
    for (const auto& g : kGroups) {
      if (g.name != item) continue;
      found = true;
      for (ParamGroup have : out) {
        if (have == g.group) {
          TOKRL_FAIL() << "config key '" << key << "': group '" << item
                       << "' given twice";
        }
      }
      out.push_back(g.group);
    }
    if (!found) {
      TOKRL_FAIL() << "config key '" << key << "': unknown parameter group '"
                   << item << "'; valid choices: experts, router, "
                   << "penultimate, head (comma separated)";
    }
  }
  if (out.empty()) {
    TOKRL_FAIL() << "config key '" << key << "': no parameter group given";
  }
  return out;
}

std::string ToString(const std::vector<ParamGroup>& groups) {
  std::string out;
  for (ParamGroup g : groups)
    out.append(out.empty() ? "" : ",").append(Name(g));
  return out;
}

std::vector<std::string> GroupParameterNames(
    const nn::QNetworkImpl& network, const std::vector<ParamGroup>& groups) {
  const auto params = network.named_parameters(/*recurse=*/true);
  for (ParamGroup g : groups) {
    bool any = false;
    for (const auto& p : params) any = any || InGroup(p.key(), g);
    if (!any) {
      TOKRL_FAIL() << "parameter group '" << Name(g)
                   << "' matches no parameter of this network (penultimate "
                   << ToString(network.options.penultimate) << ")";
    }
  }
  std::vector<std::string> names;
  for (const auto& p : params) {
    for (ParamGroup g : groups) {
      if (InGroup(p.key(), g)) {
        names.push_back(p.key());
        break;
      }
    }
  }
  return names;
}

nn::QNetwork FreshNetwork(const nn::QNetworkOptions& options, uint64_t seed) {
  auto gen = at::detail::getDefaultCPUGenerator();
  at::Tensor saved;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    saved = gen.get_state();
    gen.set_current_seed(seed);
  }
  const auto restore = [&] {
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(saved);
  };
  try {
    nn::QNetwork fresh(options);
    restore();
    return fresh;
  } catch (...) {
    restore();
    throw;
  }
}

}  // namespace tokrl
