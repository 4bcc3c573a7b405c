// The training loop of examples/training_loop.rs in C++ through bindings/cpp/viz.hpp:
// scalars every 10 steps, a histogram, a text and a tensor every 1000, into a
// TensorBoard run and viz's durable log under ./runs/<name>.
// Run: bash examples/cpp/run.sh [steps] [name]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "viz.hpp"

int main(int argc, char **argv) {
    long steps = argc > 1 ? std::atol(argv[1]) : 100000;
    std::string run = argc > 2 ? argv[2] : "cpp-" + std::to_string(std::time(nullptr));
    try {
        viz::Collector c("{\"backends\": [\"tensorboard://runs/" + run + "\", \"file://runs/" + run + "/log\"]}");
        uint32_t loss = c.intern("train/loss"), acc = c.intern("train/accuracy");
        // A live watch: losses below 0.2 as they are delivered (on viz's watch thread).
        std::atomic<long> low_losses{0};
        viz::Subscription watch = c.subscribe([&low_losses](const viz_event *, size_t len) { low_losses += (long)len; },
                                              R"({"tags": ["train/loss"], "where": {"lt": 0.2}})");
        std::mt19937 rng(7);
        std::normal_distribution<double> normal(0.0, 1.0);
        auto start = std::chrono::steady_clock::now();
        long events = 0;
        for (long step = 0; step < steps; step++) {
            if (step % 10 == 0) {
                c.collect(loss, step, 1.0 / (1 + step * 0.001));
                c.collect(acc, step, 1.0 - 1.0 / (1 + step * 0.001));
                events += 2;
            }
            if (step % 1000 == 0) {
                viz::Histogram weights;
                for (int i = 0; i < 256; i++) weights.values.push_back(normal(rng));
                c.collect("train/weights", step, weights);
                c.collect("train/note", step, "step " + std::to_string(step));
                c.collect("train/embedding", step, viz::Tensor<float>{{2, 2}, {0.1f, 0.2f, 0.3f, 0.4f}});
                events += 3;
            }
        }
        c.flush();
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        viz_stats s = c.stats();
        viz::Events back = c.get_events(1, steps / 2, steps / 2 + 99);
        // A query: the three latest losses in the durable log.
        viz::Cursor latest_losses = c.query(R"({"tags": ["train/loss"], "order": "step_desc", "limit": 3})", 1);
        viz::Events latest = latest_losses.next(3);
        std::printf("steps:      %ld\nevents:     %ld (%.2f M events/s, flush included)\n", steps, events,
                    events / secs / 1e6);
        std::printf("written:    %llu to two backends\n", (unsigned long long)s.written);
        for (size_t i = 0; i < s.destinations; i++) {
            viz_destination_stats d = c.destination_stats(i);
            std::printf("  %-14s written %llu, dropped %llu\n", d.name, (unsigned long long)d.written,
                        (unsigned long long)d.dropped);
        }
        std::printf("read back:  %zu events for steps %ld..%ld from runs/%s/log\n", back.size(), steps / 2,
                    steps / 2 + 99, run.c_str());
        for (size_t i = 0; i < latest.size(); i++)
            std::printf("latest:     step %lld loss %.4f\n", (long long)latest[i].step, latest[i].scalar);
        std::printf("see the run: tensorboard --logdir runs   (this run is runs/%s)\n", run.c_str());
        c.close();
        std::printf("watched:    %ld losses below 0.2 seen live\n", low_losses.load());
        return s.written == (unsigned long long)(2 * events) ? 0 : 1;
    } catch (const viz::Error &e) {
        std::fprintf(stderr, "viz error %d: %s\n", (int)e.status(), e.what());
        return 1;
    }
}
