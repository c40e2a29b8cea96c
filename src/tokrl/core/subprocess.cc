#include "tokrl/core/subprocess.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "tokrl/core/check.h"

extern char** environ;

namespace tokrl {
namespace {

int DecodeWaitStatus(int raw) {
  if (WIFEXITED(raw)) return WEXITSTATUS(raw);
  if (WIFSIGNALED(raw)) return -WTERMSIG(raw);
  return -1;
}

// posix_spawn file actions, released on every path.
class FileActions {
 public:
  FileActions() { posix_spawn_file_actions_init(&actions_); }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions_); }
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

}  // namespace

Process Process::Spawn(const std::vector<std::string>& argv,
                       const ProcessOptions& options) {
  TOKRL_CHECK(!argv.empty()) << "Process::Spawn needs a program";
  FileActions actions;
  int fd = -1;
  if (!options.output.empty()) {
    // Opened here rather than in the child so that an unwritable log path
    // is an error in the parent, naming the file. O_CLOEXEC: only the dup2
    // copies (which dup2 makes inheritable) reach the child.
    fd = ::open(options.output.c_str(),
                O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      TOKRL_FAIL() << "cannot open " << options.output << " for the output of '"
                   << argv[0] << "': " << std::strerror(errno);
    }
    posix_spawn_file_actions_adddup2(actions.get(), fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(actions.get(), fd, STDERR_FILENO);
  }
  if (!options.working_dir.empty()) {
    posix_spawn_file_actions_addchdir_np(actions.get(),
                                         options.working_dir.c_str());
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  if (options.die_with_parent)
    return SpawnDyingWithParent(argv, args, fd, options);
  pid_t pid = -1;
  const int err =
      posix_spawnp(&pid, args[0], actions.get(), nullptr, args.data(), environ);
  if (fd >= 0) ::close(fd);
  if (err != 0) {
    TOKRL_FAIL() << "cannot start '" << argv[0] << "': " << std::strerror(err);
  }
  return Process(pid);
}

// posix_spawn cannot set PR_SET_PDEATHSIG, so this path forks. Between fork
// and exec the child calls only async-signal-safe functions (the program
// path is resolved before the fork).
Process Process::SpawnDyingWithParent(const std::vector<std::string>& argv,
                                      const std::vector<char*>& args, int fd,
                                      const ProcessOptions& options) {
  const auto program = FindProgram(argv[0]);
  if (!program) {
    if (fd >= 0) ::close(fd);
    TOKRL_FAIL() << "cannot start '" << argv[0]
                 << "': not found or not executable";
  }
  const std::string path = program->string();
  const std::string dir = options.working_dir.string();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) ::_exit(127);
    if (::getppid() != parent) ::_exit(127);  // the parent already died
    if (fd >= 0 &&
        (::dup2(fd, STDOUT_FILENO) < 0 || ::dup2(fd, STDERR_FILENO) < 0)) {
      ::_exit(127);
    }
    if (!dir.empty() && ::chdir(dir.c_str()) != 0) ::_exit(127);
    ::execve(path.c_str(), args.data(), environ);
    ::_exit(127);
  }
  const int err = errno;
  if (fd >= 0) ::close(fd);
  if (pid < 0) {
    TOKRL_FAIL() << "cannot start '" << argv[0] << "': " << std::strerror(err);
  }
  return Process(pid);
}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(other.status_) {}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) {
      Signal(SIGTERM);
      Wait();
    }
    pid_ = std::exchange(other.pid_, -1);
    status_ = other.status_;
  }
  return *this;
}

Process::~Process() {
  if (pid_ > 0) {
    Signal(SIGTERM);
    Wait();
  }
}

std::optional<int> Process::Poll() {
  if (pid_ < 0) return status_;
  int raw = 0;
  const pid_t r = ::waitpid(pid_, &raw, WNOHANG);
  if (r == 0) return std::nullopt;
  TOKRL_CHECK(r == pid_) << "waitpid failed: " << std::strerror(errno);
  status_ = DecodeWaitStatus(raw);
  pid_ = -1;
  return status_;
}

int Process::Wait() {
  if (pid_ < 0) return status_;
  int raw = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &raw, 0);
  } while (r < 0 && errno == EINTR);
  TOKRL_CHECK(r == pid_) << "waitpid failed: " << std::strerror(errno);
  status_ = DecodeWaitStatus(raw);
  pid_ = -1;
  return status_;
}

void Process::Signal(int signal) {
  if (pid_ > 0) ::kill(pid_, signal);
}

int RunProcess(const std::vector<std::string>& argv,
               const ProcessOptions& options) {
  return Process::Spawn(argv, options).Wait();
}

std::string DescribeExitStatus(int status) {
  if (status >= 0) return "exit code " + std::to_string(status);
  std::string s = "killed by signal ";
  s.append(std::to_string(-status));
  if (const char* name = ::strsignal(-status))
    s.append(" (").append(name).append(")");
  return s;
}

std::optional<std::filesystem::path> FindProgram(std::string_view program) {
  if (program.find('/') != std::string_view::npos) {
    if (::access(std::string(program).c_str(), X_OK) == 0)
      return std::filesystem::path(program);
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const size_t colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    std::filesystem::path candidate =
        std::filesystem::path(dir.empty() ? "." : std::string(dir)) /
        std::string(program);
    if (::access(candidate.c_str(), X_OK) == 0 &&
        !std::filesystem::is_directory(candidate))
      return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return std::nullopt;
}

std::filesystem::path SelfExecutable() {
  return std::filesystem::read_symlink("/proc/self/exe");
}

}  // namespace tokrl
