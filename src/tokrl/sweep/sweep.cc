#include "tokrl/sweep/sweep.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <iterator>
#include <sstream>

#include "tokrl/core/check.h"
#include "tokrl/io/checkpoint_dir.h"
#include "tokrl/io/run_dir.h"

namespace tokrl::sweep {
namespace fs = std::filesystem;
namespace {

// The keys a sweep sets on every run itself.
const char* const kReservedKeys[] = {"env.id", "train.seed", "experiment.name",
                                     "experiment.variant"};

bool IsReserved(std::string_view key) {
  return std::find(std::begin(kReservedKeys), std::end(kReservedKeys), key) !=
         std::end(kReservedKeys);
}

std::string Where(const fs::path& file, const toml::node& node) {
  std::string s = file.string();
  s.append(":").append(std::to_string(node.source().begin.line));
  return s;
}

// Rejects keys outside `allowed`: a typo ("seed" for "seeds") must not be
// silently ignored, or a sweep would run something other than intended.
void CheckKeys(const fs::path& file, const toml::table& table,
               const std::string& table_name,
               std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, node] : table) {
    if (std::find(allowed.begin(), allowed.end(), key.str()) != allowed.end())
      continue;
    std::string list;
    for (auto a : allowed) list.append(list.empty() ? "" : ", ").append(a);
    TOKRL_FAIL() << Where(file, node) << ": unknown key '" << key.str()
                 << "' in " << table_name << " (allowed: " << list << ")";
  }
}

// toml++ tables iterate in key order; this gives (key, node) pairs in the
// order they appear in the file, so variants and overrides keep the order
// the author wrote.
std::vector<std::pair<std::string, const toml::node*>> InFileOrder(
    const toml::table& table) {
  std::vector<std::pair<std::string, const toml::node*>> items;
  for (const auto& [key, node] : table) items.emplace_back(key.str(), &node);
  std::stable_sort(
      items.begin(), items.end(), [](const auto& a, const auto& b) {
        const auto& pa = a.second->source().begin;
        const auto& pb = b.second->source().begin;
        return pa.line != pb.line ? pa.line < pb.line : pa.column < pb.column;
      });
  return items;
}

std::string ValueText(const fs::path& file, const std::string& key,
                      const toml::node& node) {
  if (auto b = node.value_exact<bool>()) return *b ? "true" : "false";
  if (auto i = node.value_exact<int64_t>()) return std::to_string(*i);
  if (auto d = node.value_exact<double>()) {
    char buf[64];
    // Shortest text that reads back to the same double.
    const auto r = std::to_chars(buf, buf + sizeof(buf), *d);
    return std::string(buf, r.ptr);
  }
  if (auto s = node.value_exact<std::string>()) return *s;
  std::ostringstream type;
  type << node.type();
  TOKRL_FAIL() << Where(file, node) << ": override '" << key
               << "' must be a bool, number or string, got " << type.str();
  return {};
}

// Appends `set` (an inline or standard table) as "key=value" overrides.
void AppendSet(const fs::path& file, const toml::node& node,
               const std::string& prefix, std::vector<std::string>& out) {
  const auto* table = node.as_table();
  if (table == nullptr) {
    TOKRL_FAIL() << Where(file, node)
                 << ": 'set' must be a table of config keys";
  }
  for (const auto& [k, value_ptr] : InFileOrder(*table)) {
    const toml::node& value = *value_ptr;
    std::string key = prefix;
    key.append(k);
    if (value.is_table()) {
      AppendSet(file, value, key + ".", out);
      continue;
    }
    if (IsReserved(key)) {
      TOKRL_FAIL() << Where(file, value) << ": '" << key
                   << "' is set by the sweep itself (games, seeds, variant "
                      "names); it cannot be overridden";
    }
    std::string assignment = key;
    assignment.append("=").append(ValueText(file, key, value));
    out.push_back(std::move(assignment));
  }
}

std::vector<fs::path> ConfigList(const fs::path& file, const toml::node& node) {
  const auto* array = node.as_array();
  if (array == nullptr) {
    TOKRL_FAIL() << Where(file, node)
                 << ": 'configs' must be an array of file names";
  }
  std::vector<fs::path> out;
  for (const auto& item : *array) {
    const auto name = item.value_exact<std::string>();
    if (!name) {
      TOKRL_FAIL() << Where(file, item)
                   << ": 'configs' entries must be strings";
    }
    fs::path path = fs::path(*name).is_absolute() ? fs::path(*name)
                                                  : file.parent_path() / *name;
    path = path.lexically_normal();
    if (!fs::is_regular_file(path)) {
      TOKRL_FAIL() << Where(file, item) << ": config file '" << path.string()
                   << "' does not exist";
    }
    out.push_back(path);
  }
  return out;
}

std::vector<std::string> GameList(const fs::path& file,
                                  const toml::node& node) {
  const auto* array = node.as_array();
  std::vector<std::string> games;
  if (array != nullptr) {
    for (const auto& item : *array) {
      const auto game = item.value_exact<std::string>();
      if (!game || game->empty()) {
        TOKRL_FAIL() << Where(file, item)
                     << ": 'games' entries must be non-empty strings";
      }
      if (std::find(games.begin(), games.end(), *game) != games.end()) {
        TOKRL_FAIL() << Where(file, item) << ": game '" << *game
                     << "' is listed twice";
      }
      games.push_back(*game);
    }
  }
  if (games.empty()) {
    TOKRL_FAIL() << Where(file, node)
                 << ": 'games' must be a non-empty array of game names";
  }
  return games;
}

std::vector<uint64_t> SeedList(const fs::path& file, const toml::node& node) {
  const auto* array = node.as_array();
  std::vector<uint64_t> seeds;
  if (array != nullptr) {
    for (const auto& item : *array) {
      const auto seed = item.value_exact<int64_t>();
      if (!seed || *seed < 0) {
        TOKRL_FAIL() << Where(file, item)
                     << ": 'seeds' entries must be non-negative integers";
      }
      const auto s = static_cast<uint64_t>(*seed);
      if (std::find(seeds.begin(), seeds.end(), s) != seeds.end()) {
        TOKRL_FAIL() << Where(file, item) << ": seed " << s
                     << " is listed twice";
      }
      seeds.push_back(s);
    }
  }
  if (seeds.empty()) {
    TOKRL_FAIL() << Where(file, node)
                 << ": 'seeds' must be a non-empty array of integers";
  }
  return seeds;
}

// The string at table[key], `fallback` when absent; any other type is an
// error (a typo'd type must not silently fall back to the default).
std::string StringKey(const fs::path& file, const toml::table& table,
                      const char* key, const std::string& fallback) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return fallback;
  const auto value = node->value_exact<std::string>();
  if (!value) {
    std::ostringstream type;
    type << node->type();
    TOKRL_FAIL() << Where(file, *node) << ": '" << key
                 << "' must be a string, got " << type.str();
  }
  return *value;
}

std::string ExpandGame(std::string pattern, const std::string& game) {
  const auto at = pattern.find("{game}");
  if (at != std::string::npos) pattern.replace(at, 6, game);
  return pattern;
}

// Variant and game names become folder names.
void CheckName(const fs::path& file, const toml::node& node,
               const std::string& what, const std::string& name) {
  const bool ok = !name.empty() && name != "." && name != ".." &&
                  std::all_of(name.begin(), name.end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) ||
                           c == '_' || c == '-' || c == '.';
                  });
  if (!ok) {
    TOKRL_FAIL() << Where(file, node) << ": " << what << " '" << name
                 << "' must use only letters, digits, '_', '-' and '.' (it "
                    "names a folder)";
  }
}

}  // namespace

Sweep LoadSweep(const fs::path& file_arg, const SweepOptions& options) {
  const fs::path file = fs::absolute(file_arg).lexically_normal();
  if (!fs::is_regular_file(file)) {
    TOKRL_FAIL() << "cannot read sweep file '" << file_arg.string() << "'";
  }
  toml::table root;
  try {
    root = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    TOKRL_FAIL() << "malformed TOML in " << file.string() << " at line "
                 << e.source().begin.line << ", column "
                 << e.source().begin.column << ": " << e.description();
  }
  CheckKeys(file, root, "the sweep file", {"sweep", "variants", "budgets"});
  const auto* head = root["sweep"].as_table();
  if (head == nullptr) {
    TOKRL_FAIL() << file.string() << ": missing the [sweep] table";
  }
  CheckKeys(file, *head, "[sweep]",
            {"name", "description", "configs", "env", "games", "seeds", "set"});

  Sweep sweep;
  sweep.file = file;
  sweep.name = StringKey(file, *head, "name", file.stem().string());
  CheckName(file, *head, "sweep name", sweep.name);
  sweep.description = StringKey(file, *head, "description", "");
  const std::string env_pattern =
      StringKey(file, *head, "env", "minatar/{game}");
  std::vector<fs::path> base_configs;
  if (const auto* n = head->get("configs")) base_configs = ConfigList(file, *n);
  std::vector<std::string> sweep_set;
  if (const auto* n = head->get("set")) AppendSet(file, *n, "", sweep_set);
  const toml::node* games_node = head->get("games");
  const toml::node* seeds_node = head->get("seeds");
  if (games_node == nullptr)
    TOKRL_FAIL() << file.string() << ": [sweep] has no 'games'";
  if (seeds_node == nullptr)
    TOKRL_FAIL() << file.string() << ": [sweep] has no 'seeds'";
  std::vector<std::string> games = GameList(file, *games_node);
  std::vector<uint64_t> seeds = SeedList(file, *seeds_node);

  // Budget.
  std::vector<std::string> budget_set;
  const auto* budgets = root["budgets"].as_table();
  if (root.contains("budgets") && budgets == nullptr) {
    TOKRL_FAIL() << file.string() << ": 'budgets' must be a table of tables";
  }
  if (budgets != nullptr) {
    for (const auto& [name, node] : *budgets) {
      sweep.budgets.emplace_back(name.str());
    }
  }
  if (!options.budget.empty()) {
    const toml::table* budget =
        budgets ? (*budgets)[options.budget].as_table() : nullptr;
    if (budget == nullptr) {
      std::string list;
      for (const auto& b : sweep.budgets)
        list.append(list.empty() ? "" : ", ").append(b);
      TOKRL_FAIL() << file.string() << ": no budget '" << options.budget
                   << "' (the file defines: "
                   << (list.empty() ? std::string("none") : list) << ")";
    }
    const std::string table_name = "[budgets." + options.budget + "]";
    CheckKeys(file, *budget, table_name, {"games", "seeds", "set"});
    if (const auto* n = budget->get("games")) games = GameList(file, *n);
    if (const auto* n = budget->get("seeds")) seeds = SeedList(file, *n);
    if (const auto* n = budget->get("set")) AppendSet(file, *n, "", budget_set);
    sweep.budget = options.budget;
  }
  for (const auto& game : games) CheckName(file, *games_node, "game", game);
  if (games.size() > 1 && env_pattern.find("{game}") == std::string::npos) {
    TOKRL_FAIL() << file.string() << ": env '" << env_pattern
                 << "' has no {game}, so all " << games.size()
                 << " games would train the same env; write the game's "
                    "place as {game}, e.g. \"minatar/{game}\"";
  }

  for (const auto& o : options.overrides) {
    const std::string key = o.substr(0, o.find('='));
    if (IsReserved(key)) {
      TOKRL_FAIL() << "--set " << o << ": '" << key
                   << "' is set by the sweep itself";
    }
  }

  const auto* variants = root["variants"].as_table();
  if (variants == nullptr || variants->empty()) {
    TOKRL_FAIL() << file.string()
                 << ": no variants (add at least one [variants.<name>] table)";
  }
  sweep.out_dir = fs::absolute(options.out_dir.empty()
                                   ? fs::path("runs/sweeps") / sweep.name
                                   : options.out_dir)
                      .lexically_normal();

  for (const auto& [variant, variant_ptr] : InFileOrder(*variants)) {
    const toml::node& variant_node = *variant_ptr;
    const auto* table = variant_node.as_table();
    if (table == nullptr) {
      TOKRL_FAIL() << Where(file, variant_node) << ": variant '" << variant
                   << "' must be a table";
    }
    CheckName(file, variant_node, "variant name", variant);
    CheckKeys(file, *table, "[variants." + variant + "]", {"configs", "set"});
    std::vector<fs::path> configs = base_configs;
    if (const auto* n = table->get("configs")) {
      for (auto& c : ConfigList(file, *n)) configs.push_back(std::move(c));
    }
    std::vector<std::string> variant_set;
    if (const auto* n = table->get("set")) AppendSet(file, *n, "", variant_set);
    for (const auto& game : games) {
      for (const uint64_t seed : seeds) {
        SweepRun run;
        run.variant = variant;
        run.game = game;
        run.seed = seed;
        run.name = variant + "/" + game + "/seed" + std::to_string(seed);
        run.run_dir =
            sweep.out_dir / variant / game / ("seed" + std::to_string(seed));
        run.configs = configs;
        using List = const std::vector<std::string>*;
        for (List list : std::initializer_list<List>{
                 &sweep_set, &variant_set, &budget_set, &options.overrides}) {
          run.overrides.insert(run.overrides.end(), list->begin(), list->end());
        }
        run.overrides.push_back("env.id=" + ExpandGame(env_pattern, game));
        run.overrides.push_back("train.seed=" + std::to_string(seed));
        run.overrides.push_back("experiment.name=" + sweep.name);
        run.overrides.push_back("experiment.variant=" + variant);
        sweep.runs.push_back(std::move(run));
      }
    }
  }
  return sweep;
}

RunState GetRunState(const fs::path& run_dir) {
  if (!fs::exists(run_dir)) return RunState::kNew;
  if (fs::exists(run_dir / io::run_dir::kSummary)) return RunState::kDone;
  // checkpoint.old: the trainer died while swapping in a new checkpoint; it
  // resumes from the old one.
  if (io::HasCheckpoint(run_dir)) return RunState::kPartial;
  return RunState::kStale;
}

const char* RunStateName(RunState state) {
  switch (state) {
    case RunState::kNew:
      return "new";
    case RunState::kDone:
      return "done";
    case RunState::kPartial:
      return "partial";
    case RunState::kStale:
      return "stale";
  }
  return "?";
}

std::vector<std::string> TrainArguments(const SweepRun& run, bool resume) {
  std::vector<std::string> args = {"train"};
  for (const auto& c : run.configs) {
    args.push_back("-c");
    args.push_back(c.string());
  }
  for (const auto& o : run.overrides) {
    args.push_back("--set");
    args.push_back(o);
  }
  args.push_back("--run-dir");
  args.push_back(run.run_dir.string());
  args.push_back("--quiet");
  if (resume) args.push_back("--resume");
  return args;
}

}  // namespace tokrl::sweep
