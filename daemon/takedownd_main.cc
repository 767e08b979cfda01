// takedownd: the daemon. `takedownd --config FILE` runs until SIGTERM or
// SIGINT, then interrupts sweeps resumably, drains the workers and exits 0.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "common/logging.h"
#include "config/config_loader.h"
#include "daemon/daemon.h"
#include "daemon/store_inspection.h"
#include "spdlog/spdlog.h"

namespace {

constexpr char kUsage[] =
    "usage: takedownd --config FILE [--check-config]\n"
    "  --config FILE    the YAML configuration (see config/examples/full.yaml)\n"
    "  --check-config   validate the configuration and exit\n"
    "  --verify-store   with the daemon stopped: check the audit chain and print a JSON\n"
    "                   report of the store (objects, cases, outbox); exit 1 if broken\n"
    "  --version        print the version and exit\n";

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool check_only = false;
  bool verify_store = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      config_path = arg.substr(9);
    } else if (arg == "--check-config") {
      check_only = true;
    } else if (arg == "--verify-store") {
      verify_store = true;
    } else if (arg == "--version") {
      std::printf("takedownd %s\n", TAKEDOWN_VERSION);
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "takedownd: unknown argument '%s'\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }
  if (config_path.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  absl::StatusOr<takedown::TakedownConfig> config = takedown::LoadConfigFile(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "takedownd: invalid configuration:\n%s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  if (verify_store) {
    absl::StatusOr<nlohmann::json> report =
        takedown::InspectStore(config->daemon.data_dir + "/store", takedown::SystemClock::Get());
    if (!report.ok()) {
      std::fprintf(stderr, "takedownd: %s\n", std::string(report.status().message()).c_str());
      return 1;
    }
    std::printf("%s\n", report->dump(2).c_str());
    return report->value("audit_chain_ok", false) ? 0 : 1;
  }
  if (check_only) {
    std::printf("%s: configuration is valid\n", config_path.c_str());
    return 0;
  }
  if (absl::Status s = takedown::SetUpLogging(config->daemon.log_level); !s.ok()) {
    std::fprintf(stderr, "takedownd: %s\n", std::string(s.message()).c_str());
    return 2;
  }

  // Every thread inherits this mask; the main thread takes the signals with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<takedown::Daemon>> daemon =
      takedown::Daemon::Start(*config, takedown::SystemClock::Get());
  if (!daemon.ok()) {
    spdlog::critical("takedownd cannot start: {}", daemon.status().ToString());
    return 1;
  }
  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("received {}; draining and shutting down", received == SIGTERM ? "SIGTERM" : "SIGINT");
  (*daemon)->Shutdown();
  daemon->reset();
  spdlog::info("takedownd stopped cleanly");
  return 0;
}
