// ThreadPool: a fixed set of worker threads running submitted tasks from a
// bounded queue. Submit blocks while the queue is full. The destructor (or
// Shutdown) finishes every queued task, then joins the threads.
//
// Thread-safe.
#pragma once

#include <functional>
#include <thread>
#include <vector>

#include "common/bounded_queue.h"

namespace takedown {

class ThreadPool {
 public:
  ThreadPool(size_t threads, size_t queue_capacity);
  ~ThreadPool();

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Returns false if the pool is shut down (the task is not run).
  bool Submit(std::function<void()> task);

  // Runs every task already submitted, then joins the workers. Idempotent.
  void Shutdown();

  size_t QueueDepth() const { return tasks_.Size(); }
  size_t size() const { return workers_.size(); }

 private:
  BoundedQueue<std::function<void()>> tasks_;
  std::vector<std::thread> workers_;
};

}  // namespace takedown
