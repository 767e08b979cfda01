// takedownctl: the command-line client of the takedownd gRPC API.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "config/config_loader.h"
#include "daemon/hash_command.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "proto/takedown/v1/takedown.grpc.pb.h"

namespace {

namespace v1 = takedown::v1;

constexpr char kUsage[] = R"(usage: takedownctl [--server HOST:PORT | --config FILE] [--json] COMMAND

Commands:
  sweep start [SOURCE...] [--wait]   start a sweep of the sources (all when none given)
  sweep status [SOURCE...] [--wait]  show sweep progress; --wait follows until sweeps end
  lists import NAME FILE [--upload]  import a hash list (FILE is read by the daemon,
                                     or sent with --upload)
  lists ls                           list imported hash lists
  cases ls [--state STATE] [--limit N]
  cases show CASE_ID
  hash [--mode exact|fast] [--dihedral] [--json] FILE...
                                     digests and PDQ of local files, no daemon needed

The server defaults to $TAKEDOWN_SERVER, else daemon.grpc_listen of --config, else 127.0.0.1:50051.
)";

struct Options {
  std::string server;
  bool json = false;
  bool wait = false;
  bool upload = false;
  std::string state;
  uint32_t limit = 0;
  std::vector<std::string> args;
};

int Fail(const grpc::Status& status) {
  std::fprintf(stderr, "takedownctl: %s\n", status.error_message().c_str());
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ? 3 : 1;
}

nlohmann::json SweepJson(const v1::SweepProgress& p) {
  return {{"source_id", p.source_id()},         {"sweep_id", p.sweep_id()},
          {"state", p.state()},                 {"started_at", p.started_at()},
          {"finished_at", p.finished_at()},     {"objects_listed", p.objects_listed()},
          {"objects_done", p.objects_done()},   {"objects_unchanged", p.objects_unchanged()},
          {"objects_skipped", p.objects_skipped()}, {"objects_failed", p.objects_failed()},
          {"bytes_read", p.bytes_read()},       {"matches", p.matches()},
          {"cursor", p.cursor()},               {"error", p.error()},
          {"resumes", p.resumes()}};
}

std::string HumanBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", v, units[u]);
}

void PrintSweeps(const google::protobuf::RepeatedPtrField<v1::SweepProgress>& sweeps, bool json) {
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& p : sweeps) out.push_back(SweepJson(p));
    std::cout << out.dump(2) << "\n";
    return;
  }
  std::cout << fmt::format("{:<16} {:<10} {:>9} {:>9} {:>9} {:>8} {:>7} {:>8} {:>11}\n", "SOURCE", "STATE",
                           "LISTED", "READ", "UNCHANGED", "SKIPPED", "FAILED", "MATCHES", "BYTES");
  for (const auto& p : sweeps) {
    std::cout << fmt::format("{:<16} {:<10} {:>9} {:>9} {:>9} {:>8} {:>7} {:>8} {:>11}\n", p.source_id(),
                             p.state(), p.objects_listed(), p.objects_done() - p.objects_failed(),
                             p.objects_unchanged(), p.objects_skipped(), p.objects_failed(), p.matches(),
                             HumanBytes(p.bytes_read()));
    if (!p.error().empty()) std::cout << "  error: " << p.error() << "\n";
  }
}

int SweepCommand(v1::Takedown::Stub& stub, const Options& o) {
  if (o.args.size() < 2 || (o.args[1] != "start" && o.args[1] != "status")) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::vector<std::string> sources(o.args.begin() + 2, o.args.end());
  if (o.args[1] == "start") {
    grpc::ClientContext ctx;
    v1::StartSweepRequest req;
    for (const auto& s : sources) req.add_source_ids(s);
    v1::StartSweepResponse resp;
    grpc::Status st = stub.StartSweep(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    if (!o.wait) {
      PrintSweeps(resp.sweeps(), o.json);
      return 0;
    }
  }
  bool tty = isatty(STDERR_FILENO);
  while (true) {
    grpc::ClientContext ctx;
    v1::SweepStatusRequest req;
    for (const auto& s : sources) req.add_source_ids(s);
    v1::SweepStatusResponse resp;
    grpc::Status st = stub.SweepStatus(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    bool running = false;
    uint64_t done = 0, listed = 0, bytes = 0;
    for (const auto& p : resp.sweeps()) {
      running |= p.state() == "running";
      done += p.objects_done() + p.objects_unchanged() + p.objects_skipped();
      listed += p.objects_listed();
      bytes += p.bytes_read();
    }
    if (!o.wait || !running) {
      if (tty && o.wait) std::fputs("\n", stderr);
      PrintSweeps(resp.sweeps(), o.json);
      for (const auto& p : resp.sweeps()) {
        if (p.state() == "failed") return 1;
      }
      return 0;
    }
    std::fprintf(stderr, tty ? "\rsweeping: %llu/%llu objects done, %s read   " : "sweeping: %llu/%llu objects done, %s read\n",
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(listed),
                 HumanBytes(bytes).c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(tty ? 250 : 2000));
  }
}

int ListsCommand(v1::Takedown::Stub& stub, const Options& o) {
  if (o.args.size() >= 2 && o.args[1] == "ls") {
    grpc::ClientContext ctx;
    v1::ListHashListsResponse resp;
    grpc::Status st = stub.ListHashLists(&ctx, v1::ListHashListsRequest(), &resp);
    if (!st.ok()) return Fail(st);
    if (o.json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& l : resp.lists()) {
        out.push_back({{"name", l.name()}, {"version", l.version()}, {"entries", l.entries()},
                       {"duplicate_lines", l.duplicate_lines()}, {"imported_at", l.imported_at()},
                       {"origin", l.origin()}});
      }
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    std::cout << fmt::format("{:<20} {:>10} {:<14} {:<28} {}\n", "NAME", "ENTRIES", "VERSION", "IMPORTED", "ORIGIN");
    for (const auto& l : resp.lists()) {
      std::cout << fmt::format("{:<20} {:>10} {:<14} {:<28} {}\n", l.name(), l.entries(), l.version().substr(0, 12),
                               l.imported_at(), l.origin());
    }
    return 0;
  }
  if (o.args.size() == 4 && o.args[1] == "import") {
    v1::ImportHashListRequest req;
    req.set_name(o.args[2]);
    if (o.upload) {
      std::ifstream in(o.args[3], std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "takedownctl: cannot read %s\n", o.args[3].c_str());
        return 1;
      }
      std::stringstream buf;
      buf << in.rdbuf();
      req.set_content(buf.str());
    } else {
      std::error_code ec;
      std::filesystem::path abs = std::filesystem::absolute(o.args[3], ec);
      req.set_path(ec ? o.args[3] : abs.string());
    }
    grpc::ClientContext ctx;
    v1::ImportHashListResponse resp;
    grpc::Status st = stub.ImportHashList(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    if (o.json) {
      std::cout << nlohmann::json{{"name", resp.list().name()}, {"version", resp.list().version()},
                                  {"entries", resp.list().entries()}, {"retro_matches", resp.retro_matches()}}
                       .dump(2)
                << "\n";
    } else {
      std::cout << fmt::format("imported {}: {} entries, version {}; {} new cases from objects already swept\n",
                               resp.list().name(), resp.list().entries(), resp.list().version().substr(0, 12),
                               resp.retro_matches());
    }
    return 0;
  }
  std::fputs(kUsage, stderr);
  return 2;
}

int CasesCommand(v1::Takedown::Stub& stub, const Options& o) {
  if (o.args.size() >= 2 && o.args[1] == "ls") {
    nlohmann::json out = nlohmann::json::array();
    if (!o.json) {
      std::cout << fmt::format("{:<28} {:<10} {:<10} {:<14} {}\n", "CASE", "STATE", "CATEGORY", "SOURCE", "KEY");
    }
    std::string token;
    uint32_t printed = 0;
    do {
      grpc::ClientContext ctx;
      v1::ListCasesRequest req;
      req.set_state(o.state);
      req.set_page_token(token);
      v1::ListCasesResponse resp;
      grpc::Status st = stub.ListCases(&ctx, req, &resp);
      if (!st.ok()) return Fail(st);
      for (const auto& c : resp.cases()) {
        if (o.limit && printed >= o.limit) break;
        ++printed;
        if (o.json) {
          out.push_back({{"id", c.id()}, {"state", c.state()}, {"category", c.category()},
                         {"source_id", c.source_id()}, {"key", c.key()}, {"created_at", c.created_at()}});
        } else {
          std::cout << fmt::format("{:<28} {:<10} {:<10} {:<14} {}\n", c.id(), c.state(), c.category(),
                                   c.source_id(), c.key());
        }
      }
      token = resp.next_page_token();
    } while (!token.empty() && !(o.limit && printed >= o.limit));
    if (o.json) std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (o.args.size() == 3 && o.args[1] == "show") {
    grpc::ClientContext ctx;
    v1::GetCaseRequest req;
    req.set_id(o.args[2]);
    v1::GetCaseResponse resp;
    grpc::Status st = stub.GetCase(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    const v1::CaseDetail& d = resp.case_detail();
    if (o.json) {
      std::cout << d.json() << "\n";
      return 0;
    }
    const v1::CaseSummary& s = d.summary();
    std::cout << fmt::format("case      {}\nstate     {}\ncategory  {}\nobject    {}:{} (version {}, {} bytes, {})\n"
                             "md5       {}\nsha1      {}\nsha256    {}\ncreated   {}\nupdated   {}\nevidence:\n",
                             s.id(), s.state(), s.category(), s.source_id(), s.key(), d.object_version(),
                             d.object_size(), d.content_type(), d.md5(), d.sha1(), d.sha256(), s.created_at(),
                             s.updated_at());
    for (const auto& e : d.evidence()) {
      std::cout << fmt::format("  {} {} in list {} (version {}) entry {} [{}] at {}\n", e.hash_type(),
                               e.digest_hex(), e.list_name(), e.list_version().substr(0, 12), e.entry_id(),
                               e.category(), e.matched_at());
    }
    if (d.history_size() > 0) std::cout << "history:\n";
    for (const auto& t : d.history()) {
      std::cout << fmt::format("  {} {} -> {} by {}: {}\n", t.at(), t.from(), t.to(), t.actor(), t.reason());
    }
    return 0;
  }
  std::fputs(kUsage, stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "hash") {
    return takedown::RunHashCommand(std::vector<std::string>(argv + 2, argv + argc));
  }
  Options o;
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* flag) -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "takedownctl: %s needs a value\n", flag);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--server") o.server = value("--server");
    else if (arg == "--config") config_path = value("--config");
    else if (arg == "--json") o.json = true;
    else if (arg == "--wait") o.wait = true;
    else if (arg == "--upload") o.upload = true;
    else if (arg == "--state") o.state = value("--state");
    else if (arg == "--limit") o.limit = static_cast<uint32_t>(std::stoul(value("--limit")));
    else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg.rfind("--", 0) == 0) {
      std::fprintf(stderr, "takedownctl: unknown option %s\n%s", arg.c_str(), kUsage);
      return 2;
    } else {
      o.args.push_back(arg);
    }
  }
  if (o.args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (o.server.empty()) {
    if (const char* env = std::getenv("TAKEDOWN_SERVER"); env && *env) {
      o.server = env;
    } else if (!config_path.empty()) {
      absl::StatusOr<takedown::TakedownConfig> config = takedown::LoadConfigFile(config_path);
      if (!config.ok()) {
        std::fprintf(stderr, "takedownctl: %s\n", std::string(config.status().message()).c_str());
        return 2;
      }
      o.server = config->daemon.grpc_listen;
    } else {
      o.server = "127.0.0.1:50051";
    }
  }
  auto channel = grpc::CreateChannel(o.server, grpc::InsecureChannelCredentials());
  auto stub = v1::Takedown::NewStub(channel);
  const std::string& command = o.args[0];
  if (command == "sweep") return SweepCommand(*stub, o);
  if (command == "lists") return ListsCommand(*stub, o);
  if (command == "cases") return CasesCommand(*stub, o);
  std::fprintf(stderr, "takedownctl: unknown command '%s'\n%s", command.c_str(), kUsage);
  return 2;
}
