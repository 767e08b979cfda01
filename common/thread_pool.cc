#include "common/thread_pool.h"

namespace takedown {

ThreadPool::ThreadPool(size_t threads, size_t queue_capacity) : tasks_(queue_capacity) {
  if (threads == 0) threads = 1;
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) {
    workers_.emplace_back([this] {
      while (auto task = tasks_.Pop()) (*task)();
    });
  }
}

ThreadPool::~ThreadPool() { Shutdown(); }

bool ThreadPool::Submit(std::function<void()> task) { return tasks_.Push(std::move(task)); }

void ThreadPool::Shutdown() {
  tasks_.Close();
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

}  // namespace takedown
