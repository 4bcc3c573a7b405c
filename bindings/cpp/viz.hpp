// viz.hpp: a header-only C++17 RAII wrapper over viz.h.
//
// - viz::Collector and viz::Storage own their handles and are move-only; the
//   destructors close them (a Collector flushes and stops first).
// - Every failing call throws viz::Error, which carries the viz_status and the
//   native message.
// - Typed collect overloads cover every event kind; collect(tag_id, step, value) is
//   the hot path (no allocation, no lock, no system call).
//
// Thread safety follows viz.h: collect, flush and the queries may be called from any
// thread at once; destroying or moving a Collector must not race them.
#ifndef VIZ_HPP
#define VIZ_HPP

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "viz.h"

namespace viz {

/// A failed viz call: the status and the native message.
class Error : public std::runtime_error {
public:
    Error(viz_status status, const std::string &message) : std::runtime_error(message), status_(status) {}
    /// The native status (never VIZ_STATUS_OK).
    viz_status status() const noexcept { return status_; }

private:
    viz_status status_;
};

/// How long close, stop, flush and a Collector's destructor wait for the backends
/// unless told otherwise, in milliseconds.
inline constexpr uint32_t default_timeout_ms = 10000;

namespace detail {
/// Refuses a libviz whose C ABI is not the one viz.h (and this wrapper) describe.
inline void check_abi() {
    uint32_t loaded = viz_abi_version();
    if (loaded != VIZ_ABI_VERSION)
        throw std::runtime_error("libviz has C ABI version " + std::to_string(loaded) +
                                 ", but viz.h and viz.hpp were written for ABI version " +
                                 std::to_string(VIZ_ABI_VERSION));
}

inline std::string last_message() {
    std::string msg(256, '\0');
    size_t needed = viz_last_error_message(msg.data(), msg.size());
    if (needed >= msg.size()) {
        msg.assign(needed + 1, '\0');
        viz_last_error_message(msg.data(), msg.size());
    }
    msg.resize(needed < msg.size() ? needed : msg.size() - 1);
    return msg;
}

inline void check(viz_status status) {
    if (status != VIZ_STATUS_OK) throw Error(status, last_message());
}

inline viz_event event(uint32_t kind, const std::string &tag, int64_t step) {
    viz_event e{};
    e.kind = kind;
    e.tag = tag.c_str();
    e.step = step;
    return e;
}

template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr uint32_t value = VIZ_DTYPE_F32; };
template <> struct dtype_of<double> { static constexpr uint32_t value = VIZ_DTYPE_F64; };
template <> struct dtype_of<int8_t> { static constexpr uint32_t value = VIZ_DTYPE_I8; };
template <> struct dtype_of<int16_t> { static constexpr uint32_t value = VIZ_DTYPE_I16; };
template <> struct dtype_of<int32_t> { static constexpr uint32_t value = VIZ_DTYPE_I32; };
template <> struct dtype_of<int64_t> { static constexpr uint32_t value = VIZ_DTYPE_I64; };
template <> struct dtype_of<uint8_t> { static constexpr uint32_t value = VIZ_DTYPE_U8; };
template <> struct dtype_of<uint16_t> { static constexpr uint32_t value = VIZ_DTYPE_U16; };
template <> struct dtype_of<uint32_t> { static constexpr uint32_t value = VIZ_DTYPE_U32; };
template <> struct dtype_of<uint64_t> { static constexpr uint32_t value = VIZ_DTYPE_U64; };
}  // namespace detail

/// A histogram of raw values, bucketed natively into `bins` equal-width buckets.
struct Histogram {
    std::vector<double> values;
    uint32_t bins = 30;
};

/// A histogram given as buckets: right edges (strictly increasing) and counts.
struct Buckets {
    std::vector<double> limits;
    std::vector<double> counts;
};

/// An image as PNG file bytes.
struct Png {
    std::vector<uint8_t> bytes;
    uint32_t width = 0;
    uint32_t height = 0;
    uint32_t channels = 4;
};

/// A dense tensor of T (row-major).
template <typename T> struct Tensor {
    std::vector<uint64_t> shape;
    std::vector<T> values;
};

/// Events read back; valid while this object lives. Move-only.
class Events {
public:
    explicit Events(viz_event_list *handle) noexcept : handle_(handle) {}
    Events(Events &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Events &operator=(Events &&other) noexcept {
        if (this != &other) {
            viz_event_list_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    Events(const Events &) = delete;
    Events &operator=(const Events &) = delete;
    ~Events() { viz_event_list_free(handle_); }

    size_t size() const noexcept { return viz_event_list_len(handle_); }
    /// Event `i` (bounds-checked: std::out_of_range).
    const viz_event &operator[](size_t i) const {
        const viz_event *e = viz_event_list_get(handle_, i);
        if (e == nullptr) throw std::out_of_range("viz::Events index " + std::to_string(i));
        return *e;
    }

private:
    viz_event_list *handle_;
};

/// Rows viz computed (aggregates, buckets), valid while this object lives.
/// Move-only; `operator[]` is bounds-checked (std::out_of_range).
template <typename Handle, typename Row, size_t (*Len)(const Handle *),
          const Row *(*Get)(const Handle *, size_t), void (*Free)(Handle *)>
class Rows {
public:
    explicit Rows(Handle *handle) noexcept : handle_(handle) {}
    Rows(Rows &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Rows &operator=(Rows &&other) noexcept {
        if (this != &other) {
            Free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    Rows(const Rows &) = delete;
    Rows &operator=(const Rows &) = delete;
    ~Rows() { Free(handle_); }

    size_t size() const noexcept { return Len(handle_); }
    const Row &operator[](size_t i) const {
        const Row *r = Get(handle_, i);
        if (r == nullptr) throw std::out_of_range("viz rows index " + std::to_string(i));
        return *r;
    }

private:
    Handle *handle_;
};

/// Per-tag scalar statistics, ordered by tag.
using Aggregates = Rows<viz_aggregate_list, viz_aggregate, viz_aggregate_list_len, viz_aggregate_list_get,
                        viz_aggregate_list_free>;
/// Downsampled step buckets, in step order.
using StepBuckets = Rows<viz_bucket_list, viz_bucket, viz_bucket_list_len, viz_bucket_list_get, viz_bucket_list_free>;

namespace detail {
/// The JSON text a size-then-copy call (viz_*_metadata_get, viz_run_repository_list)
/// writes: sized first, then copied.
template <typename Get> std::string json_text(Get get) {
    size_t needed = 0;
    check(get(nullptr, 0, &needed));
    for (;;) {
        std::string text(needed + 1, '\0');
        check(get(text.data(), text.size(), &needed));
        if (needed < text.size()) {
            text.resize(needed);
            return text;
        }
    }
}

/// A selection-only query for the read calls: empty selects every event.
inline const char *selection(const std::string &query_json) {
    return query_json.empty() ? nullptr : query_json.c_str();
}
}  // namespace detail

/// A query's results (viz_cursor), read a batch at a time with next(); an empty
/// batch means they are exhausted. Move-only.
class Cursor {
public:
    explicit Cursor(viz_cursor *handle) noexcept : handle_(handle) {}
    Cursor(Cursor &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Cursor &operator=(Cursor &&other) noexcept {
        if (this != &other) {
            viz_cursor_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    Cursor(const Cursor &) = delete;
    Cursor &operator=(const Cursor &) = delete;
    ~Cursor() { viz_cursor_free(handle_); }

    /// The next at most `max` results.
    Events next(size_t max = 1000) {
        viz_event_list *out = nullptr;
        detail::check(viz_cursor_next(handle_, max, &out));
        return Events(out);
    }

private:
    viz_cursor *handle_;
};

/// A live watch (viz_subscription, from Collector::subscribe). Destroying it, or
/// cancel(), stops the callback: once that returns the callback is not running and
/// is not called again. Move-only.
class Subscription {
public:
    explicit Subscription(viz_subscription *handle) noexcept : handle_(handle) {}
    Subscription(Subscription &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Subscription &operator=(Subscription &&other) noexcept {
        if (this != &other) {
            viz_subscription_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    Subscription(const Subscription &) = delete;
    Subscription &operator=(const Subscription &) = delete;
    ~Subscription() { viz_subscription_free(handle_); }

    /// Stops the callback; safe to call twice, and after the collector is gone.
    void cancel() noexcept { viz_subscription_free(std::exchange(handle_, nullptr)); }
    /// Events handed to the callback so far.
    uint64_t delivered() const noexcept { return viz_subscription_delivered(handle_); }
    /// Events the callback missed because the watch thread had fallen behind.
    uint64_t dropped() const noexcept { return viz_subscription_dropped(handle_); }
    /// Whether the callback may still be called.
    bool active() const noexcept { return viz_subscription_is_active(handle_); }

private:
    viz_subscription *handle_;
};

/// The process's read cache of file:// segment indexes: its counters.
inline viz_cache_stats read_cache_stats() {
    viz_cache_stats s{};
    detail::check(viz_read_cache_stats(&s));
    return s;
}
/// Sets the read cache's capacity (0 turns it off) and entries' time to live.
inline void configure_read_cache(uint64_t capacity_bytes, uint64_t ttl_ms = 600000) {
    detail::check(viz_read_cache_configure(capacity_bytes, ttl_ms));
}

/// The runs of a project directory (viz_run_repository), which file:// backends
/// write with "file://DIR?run=NAME&rank=N". Move-only.
class RunRepository {
public:
    explicit RunRepository(const std::string &root) {
        detail::check_abi();
        detail::check(viz_run_repository_open(root.c_str(), &handle_));
    }
    RunRepository(RunRepository &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    RunRepository &operator=(RunRepository &&other) noexcept {
        if (this != &other) {
            viz_run_repository_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    RunRepository(const RunRepository &) = delete;
    RunRepository &operator=(const RunRepository &) = delete;
    ~RunRepository() { viz_run_repository_free(handle_); }

    /// The runs' names, as a JSON array.
    std::string names_json() const {
        return detail::json_text(
            [&](char *buf, size_t len, size_t *needed) { return viz_run_repository_names(handle_, buf, len, needed); });
    }
    /// The runs a filter selects ({"name": pattern, "metadata": {...}}; empty: all),
    /// as a JSON array of run objects (see viz.h's viz_run_repository_list).
    std::string list_json(const std::string &filter_json = "") const {
        const char *filter = detail::selection(filter_json);
        return detail::json_text([&](char *buf, size_t len, size_t *needed) {
            return viz_run_repository_list(handle_, filter, buf, len, needed);
        });
    }
    /// The events of every rank of run `name`, as one run, that a query selects.
    Cursor query(const std::string &name, const std::string &query_json) const {
        viz_cursor *out = nullptr;
        detail::check(viz_run_repository_query(handle_, name.c_str(), query_json.c_str(), &out));
        return Cursor(out);
    }
    /// Deletes run `name` with its data; refused while any rank is being written.
    void remove(const std::string &name) { detail::check(viz_run_repository_delete(handle_, name.c_str())); }

private:
    viz_run_repository *handle_ = nullptr;
};

/// Follows a file:// log directory that a collector or another process is writing
/// (viz_log_tail): next() returns the events written after its position, in order,
/// across segment rolls; an empty batch means nothing new yet. Move-only.
class LogTail {
public:
    /// From log offset `offset` (0: the first event ever written; from_end: only
    /// what is written from now on).
    explicit LogTail(const std::string &directory, uint64_t offset = 0) {
        detail::check_abi();
        detail::check(viz_log_tail_open(directory.c_str(), offset, &handle_));
    }
    static constexpr uint64_t from_end = UINT64_MAX;
    LogTail(LogTail &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    LogTail &operator=(LogTail &&other) noexcept {
        if (this != &other) {
            viz_log_tail_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    LogTail(const LogTail &) = delete;
    LogTail &operator=(const LogTail &) = delete;
    ~LogTail() { viz_log_tail_free(handle_); }

    /// Up to `max` new events.
    Events next(size_t max = 1000) {
        viz_event_list *out = nullptr;
        detail::check(viz_log_tail_next(handle_, max, &out));
        return Events(out);
    }
    /// The log offset of the next event it returns (save it to resume).
    uint64_t offset() const noexcept { return viz_log_tail_offset(handle_); }
    /// Damaged records and stretches skipped so far.
    uint64_t damage() const noexcept { return viz_log_tail_damage(handle_); }

private:
    viz_log_tail *handle_ = nullptr;
};

/// One storage backend instance (viz_storage): use it directly, or lend it to
/// Collectors, which then write this very instance. Move-only.
class Storage {
public:
    /// Opens a backend: `connection_string` such as "file:///runs/a" or "memory://".
    explicit Storage(const std::string &connection_string) {
        detail::check_abi();
        detail::check(viz_storage_open(nullptr, connection_string.c_str(), &handle_));
    }
    Storage(Storage &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Storage &operator=(Storage &&other) noexcept {
        if (this != &other) {
            viz_storage_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    Storage(const Storage &) = delete;
    Storage &operator=(const Storage &) = delete;
    ~Storage() { viz_storage_free(handle_); }

    void store(const std::vector<viz_event> &events) {
        detail::check(viz_storage_store(handle_, events.data(), events.size()));
    }
    /// The stored events a query (JSON, see viz.h's viz_collector_query) selects.
    Cursor query(const std::string &query_json) const {
        viz_cursor *out = nullptr;
        detail::check(viz_storage_query(handle_, query_json.c_str(), &out));
        return Cursor(out);
    }
    Events get_events(int64_t start_step, int64_t end_step) const {
        viz_event_list *out = nullptr;
        detail::check(viz_storage_get_events(handle_, start_step, end_step, &out));
        return Events(out);
    }
    /// Sets run metadata atomically: a JSON object of keys to values.
    void metadata_set(const std::string &json_object) {
        detail::check(viz_storage_metadata_set(handle_, json_object.c_str()));
    }
    /// Opens a transaction (sqlite://): stores and metadata changes until commit_transaction()
    /// land together; rollback_transaction() undoes them.
    void begin_transaction() { detail::check(viz_storage_transaction_begin(handle_)); }
    void commit_transaction() { detail::check(viz_storage_transaction_commit(handle_)); }
    void rollback_transaction() { detail::check(viz_storage_transaction_rollback(handle_)); }
    /// Deletes run metadata keys atomically: a JSON array of keys.
    void metadata_delete(const std::string &keys_json) {
        detail::check(viz_storage_metadata_delete(handle_, keys_json.c_str()));
    }
    /// The run metadata, as a JSON object.
    std::string metadata() const {
        return detail::json_text(
            [&](char *buf, size_t len, size_t *needed) { return viz_storage_metadata_get(handle_, buf, len, needed); });
    }
    /// Per-tag statistics of the selected scalars (a query without order, offset or
    /// limit; empty selects every tag).
    Aggregates aggregate(const std::string &query_json = "") const {
        viz_aggregate_list *out = nullptr;
        detail::check(viz_storage_aggregate(handle_, detail::selection(query_json), &out));
        return Aggregates(out);
    }
    /// The selected scalars in `buckets` equal step ranges over first..last.
    StepBuckets downsample(const std::string &query_json, int64_t first, int64_t last, size_t buckets) const {
        viz_bucket_list *out = nullptr;
        detail::check(viz_storage_downsample(handle_, detail::selection(query_json), first, last, buckets, &out));
        return StepBuckets(out);
    }
    /// The last stored event of each selected tag, ordered by tag.
    Events latest(const std::string &query_json = "") const {
        viz_event_list *out = nullptr;
        detail::check(viz_storage_latest(handle_, detail::selection(query_json), &out));
        return Events(out);
    }
    void flush() { detail::check(viz_storage_flush(handle_)); }
    uint64_t event_count() const {
        uint64_t n = 0;
        detail::check(viz_storage_event_count(handle_, &n));
        return n;
    }
    void clear() { detail::check(viz_storage_clear(handle_)); }
    void shutdown() { detail::check(viz_storage_shutdown(handle_)); }
    bool is_open() const noexcept { return viz_storage_is_initialized(handle_); }
    const viz_storage *handle() const noexcept { return handle_; }

private:
    viz_storage *handle_ = nullptr;
};

/// An event collector with its background threads. Move-only; the destructor
/// flushes, stops and frees it (waiting at most default_timeout_ms for its backends).
class Collector {
public:
    /// From a JSON config, such as {"backends": ["file://runs/a/log"]} (see viz.h).
    explicit Collector(const std::string &config_json) {
        detail::check_abi();
        detail::check(viz_collector_new(config_json.c_str(), &handle_));
    }
    /// From a JSON config plus storages lent as the first destinations.
    Collector(const std::string &config_json, const std::vector<const Storage *> &storages) {
        detail::check_abi();
        std::vector<const viz_storage *> raw;
        for (const Storage *s : storages) raw.push_back(s != nullptr ? s->handle() : nullptr);
        detail::check(viz_collector_new_with_storage(config_json.c_str(), raw.data(), raw.size(), &handle_));
    }
    Collector(Collector &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Collector &operator=(Collector &&other) noexcept {
        if (this != &other) {
            if (handle_ != nullptr) viz_collector_close(handle_, default_timeout_ms);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    Collector(const Collector &) = delete;
    Collector &operator=(const Collector &) = delete;
    ~Collector() {
        if (handle_ != nullptr) viz_collector_close(handle_, default_timeout_ms);
    }

    /// Flushes, stops and frees now, throwing if the backends did not finish.
    void close(uint32_t timeout_ms = default_timeout_ms) {
        viz_collector *h = std::exchange(handle_, nullptr);
        if (h != nullptr) detail::check(viz_collector_close(h, timeout_ms));
    }

    void start() { detail::check(viz_collector_start(live())); }
    void stop(uint32_t timeout_ms = default_timeout_ms) { detail::check(viz_collector_stop(live(), timeout_ms)); }
    bool running() const noexcept { return viz_collector_is_running(handle_); }
    size_t pending() const {
        size_t n = 0;
        detail::check(viz_collector_pending(live(), &n));
        return n;
    }

    /// The process-wide id of a tag, for the hot path. Ids never change, so each
    /// thread keeps the ones it has seen: a tag is interned once per thread.
    uint32_t intern(const std::string &tag) const {
        thread_local std::unordered_map<std::string, uint32_t> ids;
        auto found = ids.find(tag);
        if (found != ids.end()) return found->second;
        uint32_t id = 0;
        detail::check(viz_collector_tag_intern(live(), tag.c_str(), &id));
        ids.emplace(tag, id);
        return id;
    }

    /// The hot path: a scalar under an interned tag.
    void collect(uint32_t tag_id, int64_t step, double value) const {
        viz_status s = viz_collector_collect_scalar_id(handle_, tag_id, step, value);
        if (s != VIZ_STATUS_OK) detail::check(s);
    }
    /// A scalar under a tag given by name: its id is looked up (interned once per
    /// thread), then it takes the hot path.
    void collect(const std::string &tag, int64_t step, double value) const {
        live();
        collect(intern(tag), step, value);
    }
    void collect(const std::string &tag, int64_t step, const std::string &text) const {
        viz_event e = detail::event(VIZ_EVENT_KIND_TEXT, tag, step);
        e.text = text.c_str();
        collect(e);
    }
    void collect(const std::string &tag, int64_t step, const char *text) const {
        collect(tag, step, std::string(text != nullptr ? text : ""));
    }
    void collect(const std::string &tag, int64_t step, const Histogram &h) const {
        viz_event e = detail::event(VIZ_EVENT_KIND_HISTOGRAM, tag, step);
        e.values = h.values.data();
        e.values_len = h.values.size();
        e.bins = h.bins;
        collect(e);
    }
    void collect(const std::string &tag, int64_t step, const Buckets &b) const {
        if (b.limits.size() != b.counts.size())
            throw Error(VIZ_STATUS_INVALID_ARGUMENT, "viz::Buckets: " + std::to_string(b.limits.size()) +
                                                         " limits but " + std::to_string(b.counts.size()) + " counts");
        viz_event e = detail::event(VIZ_EVENT_KIND_HISTOGRAM, tag, step);
        e.bucket_limits = b.limits.data();
        e.bucket_counts = b.counts.data();
        e.buckets_len = b.limits.size();
        collect(e);
    }
    void collect(const std::string &tag, int64_t step, const Png &image) const {
        viz_event e = detail::event(VIZ_EVENT_KIND_IMAGE, tag, step);
        e.data = image.bytes.data();
        e.data_len = image.bytes.size();
        e.width = image.width;
        e.height = image.height;
        e.channels = image.channels;
        collect(e);
    }
    template <typename T> void collect(const std::string &tag, int64_t step, const Tensor<T> &t) const {
        viz_event e = detail::event(VIZ_EVENT_KIND_TENSOR, tag, step);
        e.dtype = detail::dtype_of<T>::value;
        e.shape = t.shape.data();
        e.shape_len = t.shape.size();
        e.data = reinterpret_cast<const uint8_t *>(t.values.data());
        e.data_len = t.values.size() * sizeof(T);
        collect(e);
    }
    /// Any event, as a filled viz_event.
    void collect(const viz_event &e) const { detail::check(viz_collector_collect(live(), &e)); }

    void flush(uint32_t timeout_ms = default_timeout_ms) const { detail::check(viz_collector_flush(live(), timeout_ms)); }
    viz_stats stats() const {
        viz_stats s{};
        detail::check(viz_collector_stats(live(), &s));
        return s;
    }
    /// Destination `index`'s own counters (0 to stats().destinations - 1).
    viz_destination_stats destination_stats(size_t index) const {
        viz_destination_stats d{};
        detail::check(viz_collector_destination_stats(live(), index, &d));
        return d;
    }
    /// Flushes, then waits until every remote destination's server (an
    /// `mlflow+http://` backend) acknowledged every event collected so far: end a
    /// training script with this to know everything arrived. `flush` only makes
    /// events durable in the spool. Throws with VIZ_STATUS_TIMEOUT if not in time
    /// (the events stay spooled and are sent later).
    void wait_acknowledged(uint32_t timeout_ms = default_timeout_ms) const {
        detail::check(viz_collector_wait_acknowledged(live(), timeout_ms));
    }
    /// Makes every event collected so far durable beyond this machine: flushes,
    /// waits for remote servers (as `wait_acknowledged`), and has an `s3://`
    /// destination seal its staging log and upload every segment. Throws with
    /// VIZ_STATUS_TIMEOUT or VIZ_STATUS_IO naming the destination still pending.
    void sync(uint32_t timeout_ms = default_timeout_ms) const {
        detail::check(viz_collector_sync(live(), timeout_ms));
    }
    /// Records how the run ended (VIZ_RUN_STATUS_FINISHED, _FAILED, _KILLED) on every
    /// backend that keeps one: an MLflow run's status, the TensorBoard HPARAMS
    /// session's. Applied at close; without it a run ends finished. Throws with
    /// VIZ_STATUS_UNSUPPORTED if no backend keeps a run status.
    void set_run_status(viz_run_status status) const {
        detail::check(viz_collector_set_run_status(live(), static_cast<uint32_t>(status)));
    }
    /// Remote destination `index`'s spool and delivery counters; throws with
    /// VIZ_STATUS_UNSUPPORTED for a destination that is not remote.
    viz_remote_stats remote_stats(size_t index) const {
        viz_remote_stats r{};
        detail::check(viz_collector_remote_stats(live(), index, &r));
        return r;
    }
    /// Object-store (`s3://`) destination `index`'s replication status; throws
    /// with VIZ_STATUS_UNSUPPORTED for a destination that does not replicate.
    viz_replication_stats replication_stats(size_t index) const {
        viz_replication_stats r{};
        detail::check(viz_collector_replication_stats(live(), index, &r));
        return r;
    }
    /// Calls `callback` for every delivery failure and warning, on viz's delivery
    /// threads (it must be safe to call from them; an exception it throws is
    /// swallowed). Replaces the callback set before; an empty function removes it.
    void on_error(std::function<void(const viz_error_report &)> callback) const {
        if (!callback) {
            detail::check(viz_collector_on_error(live(), nullptr, nullptr, nullptr));
            return;
        }
        using Fn = std::function<void(const viz_error_report &)>;
        auto *held = new Fn(std::move(callback));
        viz_status s = viz_collector_on_error(
            live(),
            [](void *userdata, const viz_error_report *report) {
                try {
                    (*static_cast<Fn *>(userdata))(*report);
                } catch (...) {
                    // Nothing may unwind into viz.
                }
            },
            held, [](void *userdata) { delete static_cast<Fn *>(userdata); });
        if (s != VIZ_STATUS_OK) {
            delete held;  // viz kept nothing: it never calls the finalizer
            detail::check(s);
        }
    }

    /// Watches the collector live: `callback(events, len)` receives, on viz's watch
    /// thread, the events of each delivered batch that `filter_json` selects (a query
    /// without order, offset or limit; empty selects everything). The views are
    /// valid during the call. An exception the callback throws is swallowed. A slow
    /// callback never slows the collector (missed batches: Subscription::dropped).
    Subscription subscribe(std::function<void(const viz_event *, size_t)> callback,
                           const std::string &filter_json = "") const {
        using Fn = std::function<void(const viz_event *, size_t)>;
        auto *held = new Fn(std::move(callback));
        viz_subscription *out = nullptr;
        // viz owns `held` from here: its finalizer deletes it, also when this fails.
        detail::check(viz_collector_subscribe(
            live(), filter_json.empty() ? nullptr : filter_json.c_str(),
            [](void *userdata, const viz_event *events, size_t len) {
                try {
                    (*static_cast<Fn *>(userdata))(events, len);
                } catch (...) {
                    // Nothing may unwind into viz.
                }
            },
            held, [](void *userdata) { delete static_cast<Fn *>(userdata); }, &out));
        return Subscription(out);
    }

    /// The events backend number `backend` stores that a query selects: JSON such as
    /// {"tags": ["train/*"], "where": {"lt": 0.1}, "order": "step_desc", "limit": 20}.
    Cursor query(const std::string &query_json, size_t backend = 0) const {
        viz_cursor *out = nullptr;
        detail::check(viz_collector_query(live(), backend, query_json.c_str(), &out));
        return Cursor(out);
    }
    Events get_events(size_t backend, int64_t start_step, int64_t end_step) const {
        viz_event_list *out = nullptr;
        detail::check(viz_collector_get_events(live(), backend, start_step, end_step, &out));
        return Events(out);
    }
    /// Sets run metadata (a JSON object of keys to values) atomically on every
    /// backend that keeps it (memory, file, tensorboard as hyperparameters).
    void metadata_set(const std::string &json_object) const {
        detail::check(viz_collector_metadata_set(live(), json_object.c_str()));
    }
    /// Deletes run metadata keys (a JSON array) on every backend that keeps it.
    void metadata_delete(const std::string &keys_json) const {
        detail::check(viz_collector_metadata_delete(live(), keys_json.c_str()));
    }
    /// The run metadata backend `backend` keeps, as a JSON object.
    std::string metadata(size_t backend = 0) const {
        return detail::json_text([&](char *buf, size_t len, size_t *needed) {
            return viz_collector_metadata_get(live(), backend, buf, len, needed);
        });
    }
    /// Per-tag statistics of the scalars backend `backend` stores that a
    /// selection-only query picks (empty: every tag), ordered by tag.
    Aggregates aggregate(const std::string &query_json = "", size_t backend = 0) const {
        viz_aggregate_list *out = nullptr;
        detail::check(viz_collector_aggregate(live(), backend, detail::selection(query_json), &out));
        return Aggregates(out);
    }
    /// The selected scalars of backend `backend` in `buckets` equal step ranges over
    /// first..last, for plots.
    StepBuckets downsample(const std::string &query_json, int64_t first, int64_t last, size_t buckets,
                       size_t backend = 0) const {
        viz_bucket_list *out = nullptr;
        detail::check(
            viz_collector_downsample(live(), backend, detail::selection(query_json), first, last, buckets, &out));
        return StepBuckets(out);
    }
    /// The last stored event of each selected tag in backend `backend`.
    Events latest(const std::string &query_json = "", size_t backend = 0) const {
        viz_event_list *out = nullptr;
        detail::check(viz_collector_latest(live(), backend, detail::selection(query_json), &out));
        return Events(out);
    }

private:
    viz_collector *live() const {
        if (handle_ == nullptr) throw Error(VIZ_STATUS_CLOSED, "viz::Collector: closed or moved from");
        return handle_;
    }
    viz_collector *handle_ = nullptr;
};

}  // namespace viz

#endif
