using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using MLFramework.Visualization.Native;
using MLFramework.Visualization.Storage;

namespace MLFramework.Visualization.Collection
{
    /// <summary>
    /// The seed's asynchronous collector over libviz: Collect queues into a lock-free
    /// per-thread native queue (no allocation for scalars, no lock, no wake-up), and
    /// native threads deliver batches to the destinations. Dispose flushes.
    /// </summary>
    public sealed unsafe class AsyncEventCollector : IEventCollector, IDisposable
    {
        private static long nextTypeId;
        // Tag ids are process-wide in libviz, so one cache serves every collector.
        private static readonly ConcurrentDictionary<string, uint> TagIds = new ConcurrentDictionary<string, uint>();

        private readonly object gate = new object();
        private readonly List<StorageHandle> storages = new List<StorageHandle>();
        private readonly List<string> ownTypes = new List<string>();
        private readonly List<HostBackendBridge> bridges = new List<HostBackendBridge>();
        private readonly List<StorageHandle> ownedHandles = new List<StorageHandle>();
        private EventCollectorConfig config;
        private CollectorHandle collector;
        // The live collector's pointer for the hot path. Valid until Dispose: stopped
        // collectors are kept (retired), not freed, so a Collect racing Stop or Start
        // meets a stopped collector (CLOSED), never a freed one.
        private IntPtr raw;
        private readonly List<CollectorHandle> retired = new List<CollectorHandle>();
        private bool stopped;
        private bool disposed;
        private readonly ErrorRelay errors = new ErrorRelay();
        // The lent storages' routes as the native config's JSON, or null for none.
        private string storageRoutes;

        /// <summary>Raised for every delivery failure and warning (a backend error, with
        /// whether its events will be retried; a recovered log tail), on viz's delivery
        /// threads. A handler that throws is ignored.</summary>
        public event EventHandler<BackendErrorEventArgs> BackendError
        {
            add { errors.Add(value, this); }
            remove { errors.Remove(value); }
        }

        /// <summary>A collector persisting to one backend (native or written in C#).</summary>
        public AsyncEventCollector(IStorageBackend storage, EventCollectorConfig config = null)
        {
            if (storage == null) throw new ArgumentNullException("storage");
            Init(new[] { storage }, config);
        }

        /// <summary>A collector persisting to several backends (seed 004's multiple destinations); GetEvents reads the first.</summary>
        public AsyncEventCollector(IEnumerable<IStorageBackend> storages, EventCollectorConfig config = null)
        {
            if (storages == null) throw new ArgumentNullException("storages");
            var list = new List<IStorageBackend>();
            foreach (var s in storages)
            {
                if (s == null) throw new ArgumentNullException("storages", "a storage backend is null");
                list.Add(s);
            }
            if (list.Count == 0) throw new ArgumentException("at least one storage backend is needed", "storages");
            Init(list, config);
        }

        /// <summary>A collector persisting to several backends, each receiving only the
        /// events its route selects (by kind and tag prefix): say, scalars to a
        /// TensorBoard run and everything to the durable log.</summary>
        public AsyncEventCollector(IEnumerable<RoutedBackend> backends, EventCollectorConfig config = null)
        {
            if (backends == null) throw new ArgumentNullException("backends");
            var list = new List<IStorageBackend>();
            var routes = new List<string>();
            foreach (var b in backends)
            {
                if (b == null) throw new ArgumentNullException("backends", "a routed backend is null");
                list.Add(b.Backend);
                routes.Add(b.ToJson());
            }
            if (list.Count == 0) throw new ArgumentException("at least one backend is needed", "backends");
            storageRoutes = "[" + string.Join(", ", routes) + "]";
            Init(list, config);
        }

        /// <summary>A collector delivering every batch to in-process subscribers.</summary>
        public AsyncEventCollector(IEnumerable<IEventSubscriber> subscribers, EventCollectorConfig config = null)
        {
            if (subscribers == null) throw new ArgumentNullException("subscribers");
            var backends = new List<IStorageBackend>();
            foreach (var s in subscribers)
            {
                if (s == null) throw new ArgumentNullException("subscribers", "a subscriber is null");
                backends.Add(new SubscriberBackend(s));
            }
            if (backends.Count == 0) throw new ArgumentException("at least one subscriber is needed", "subscribers");
            Init(backends, config);
        }

        private void Init(IList<IStorageBackend> backends, EventCollectorConfig cfg)
        {
            config = cfg ?? new EventCollectorConfig();
            config.Validate();
            try
            {
                foreach (var b in backends) storages.Add(HandleFor(b));
                Use(Create());
            }
            catch
            {
                Release();
                throw;
            }
        }

        /// <summary>The native instance a backend is delivered to: its own, or a bridge to the C# object.</summary>
        private StorageHandle HandleFor(IStorageBackend backend)
        {
            var native = backend as NativeStorageBackend;
            if (native != null) return native.Handle;
            string type = "dotnet-backend-" + Interlocked.Increment(ref nextTypeId);
            bridges.Add(HostBackendBridge.Register(type, backend));
            ownTypes.Add(type);
            StorageHandle h;
            VizErrors.Check(NativeMethods.viz_storage_open(null, Utf8.Encode(type + "://"), out h));
            ownedHandles.Add(h);
            return h;
        }

        private CollectorHandle Create()
        {
            var raw = new IntPtr[storages.Count];
            var added = new bool[storages.Count];
            try
            {
                for (int i = 0; i < storages.Count; i++)
                {
                    storages[i].DangerousAddRef(ref added[i]);
                    raw[i] = storages[i].DangerousGetHandle();
                }
                CollectorHandle c;
                VizErrors.Check(NativeMethods.viz_collector_new_with_storage(
                    Utf8.Encode(config.ToJson(storageRoutes)), raw, (UIntPtr)raw.Length, out c));
                c.CloseTimeoutMs = config.TimeoutMs;
                errors.Attach(c);
                return c;
            }
            finally
            {
                for (int i = 0; i < storages.Count; i++) if (added[i]) storages[i].DangerousRelease();
            }
        }

        private void Use(CollectorHandle c)
        {
            collector = c;
            raw = c.DangerousGetHandle();
        }

        /// <inheritdoc/>
        public EventCollectorConfig Config
        {
            get { return config; }
            set
            {
                if (value == null) throw new ArgumentNullException("value");
                value.Validate();
                lock (gate)
                {
                    if (IsRunning) throw new InvalidOperationException("stop the collector before changing its Config");
                    config = value;
                    if (!stopped && collector != null)
                    {
                        // Not started yet: rebuild with the new settings, keeping nothing queued behind.
                        if (PendingEventCount > 0) throw new InvalidOperationException("events are already queued; start the collector, or change Config before collecting");
                        retired.Add(collector);
                        Use(Create());
                    }
                }
            }
        }

        private CollectorHandle Live
        {
            get
            {
                var c = collector;
                if (disposed) throw new ObjectDisposedException("AsyncEventCollector");
                if (c == null || stopped) throw new InvalidOperationException("the collector is stopped; call Start to collect again");
                return c;
            }
        }

        /// <summary>The process-wide id of a tag, for CollectScalar.</summary>
        public uint Intern(string tag)
        {
            if (tag == null) throw new ArgumentNullException("tag");
            uint id;
            if (TagIds.TryGetValue(tag, out id)) return id;
            VizErrors.Check(NativeMethods.viz_collector_tag_intern(Live, Utf8.Encode(tag), out id));
            TagIds[tag] = id;
            return id;
        }

        /// <summary>The fastest way to log a scalar: one native call, no allocation.</summary>
        public void CollectScalar(uint tagId, long step, double value)
        {
            if (disposed) throw new ObjectDisposedException("AsyncEventCollector");
            int status = NativeMethods.viz_collect_scalar_id_raw(raw, tagId, step, value);
            if (status != 0) ThrowCollectFailure(status);
        }

        private void ThrowCollectFailure(int status)
        {
            if (stopped && status == (int)VizStatus.Closed)
                throw new InvalidOperationException("the collector is stopped; call Start to collect again");
            // Without backpressure the seed drops when full and Collect goes on. The
            // library refuses the new event only when everything MaxQueueLength
            // holds is already on its way to a backend (nothing older is left to
            // drop); it is counted in Stats.DroppedNewest and reported through
            // BackendError, so there is nothing for the caller to catch.
            if (status == (int)VizStatus.QueueFull && !config.EnableBackpressure) return;
            VizErrors.Check(status);
        }

        /// <summary>Logs a scalar under a tag (interned once per process).</summary>
        public void CollectScalar(string tag, long step, double value)
        {
            CollectScalar(Intern(tag), step, value);
        }

        /// <inheritdoc/>
        public void Collect<T>(T eventData) where T : Event
        {
            if (eventData == null) throw new ArgumentNullException("eventData");
            var scalar = eventData as ScalarEvent;
            if (scalar != null && !scalar.WallTime.HasValue && scalar.Priority == EventPriority.Normal && scalar.Tag != null)
            {
                CollectScalar(scalar.Tag, scalar.Step, scalar.Value);
                return;
            }
            using (var pinned = new PinnedEvents(new Event[] { eventData }))
            {
                int status;
                fixed (VizEvent* view = pinned.Views) status = NativeMethods.viz_collector_collect(Live, view);
                if (status != 0) ThrowCollectFailure(status);
            }
        }

        /// <inheritdoc/>
        public Task CollectAsync<T>(T eventData) where T : Event
        {
            try
            {
                Collect(eventData);
                return Task.FromResult(true);
            }
            catch (Exception e)
            {
                var failed = new TaskCompletionSource<bool>();
                failed.SetException(e);
                return failed.Task;
            }
        }

        /// <inheritdoc/>
        public void Flush()
        {
            VizErrors.Check(NativeMethods.viz_collector_flush(Live, config.TimeoutMs));
        }

        /// <inheritdoc/>
        public Task FlushAsync() { return Task.Run(() => Flush()); }

        /// <summary>
        /// Flushes, then waits until every remote destination's server (an <c>mlflow+http://</c>
        /// backend) acknowledged every event collected so far. <see cref="Flush"/> only makes events
        /// durable in the spool; end a training run with this to know everything arrived.
        /// Throws <see cref="TimeoutException"/> if not in time (the events stay spooled and are sent later).
        /// </summary>
        public void WaitAcknowledged(TimeSpan timeout)
        {
            VizErrors.Check(NativeMethods.viz_collector_wait_acknowledged(Live, (uint)Math.Min(uint.MaxValue, Math.Max(0, timeout.TotalMilliseconds))));
        }

        /// <summary>
        /// Makes every event collected so far durable beyond this machine: flushes, waits for
        /// remote servers (as <see cref="WaitAcknowledged"/>), and has an <c>s3://</c> backend seal
        /// its staging log and upload every segment. Throws <see cref="TimeoutException"/> (or an
        /// I/O exception) naming the backend still pending; its events stay staged for later.
        /// </summary>
        public void Sync(TimeSpan timeout)
        {
            VizErrors.Check(NativeMethods.viz_collector_sync(Live, (uint)Math.Min(uint.MaxValue, Math.Max(0, timeout.TotalMilliseconds))));
        }

        /// <summary>
        /// Records how the run ended on every backend that keeps a run status: an MLflow run's
        /// status (<c>mlflow+http://</c>) and the TensorBoard HPARAMS session's, applied when the
        /// collector is disposed; <c>file://</c> and <c>sqlite://</c> record it at once; without it a run ends <see cref="RunStatus.Finished"/>. Call it
        /// with <see cref="RunStatus.Failed"/> from the handler of a failed training run.
        /// Throws <see cref="NotSupportedException"/> if no backend keeps a run status.
        /// </summary>
        public void SetRunStatus(RunStatus status)
        {
            VizErrors.Check(NativeMethods.viz_collector_set_run_status(Live, (uint)status));
        }

        /// <summary>Remote destination <paramref name="index"/>'s spool and delivery counters;
        /// throws <see cref="NotSupportedException"/> for a destination that is not remote.</summary>
        public RemoteStats RemoteStats(int index)
        {
            VizRemoteStats r;
            VizErrors.Check(NativeMethods.viz_collector_remote_stats(Live, new UIntPtr((ulong)index), out r));
            return new RemoteStats(r);
        }

        /// <summary>Object-store (<c>s3://</c>) destination <paramref name="index"/>'s replication
        /// status; throws <see cref="NotSupportedException"/> for one that does not replicate.</summary>
        public ReplicationStats ReplicationStats(int index)
        {
            VizReplicationStats r;
            VizErrors.Check(NativeMethods.viz_collector_replication_stats(Live, new UIntPtr((ulong)index), out r));
            return new ReplicationStats(r);
        }

        /// <inheritdoc/>
        public void Start()
        {
            lock (gate)
            {
                if (disposed) throw new ObjectDisposedException("AsyncEventCollector");
                if (stopped)
                {
                    Use(Create());
                    stopped = false;
                }
                VizErrors.Check(NativeMethods.viz_collector_start(collector));
            }
        }

        /// <summary>Stops accepting events, delivers and flushes what was collected and
        /// waits for the background work, at most <see cref="EventCollectorConfig.ShutdownTimeout"/>
        /// (the seed's contract). Past the timeout it returns anyway: what was not
        /// delivered is counted in <see cref="Stats"/> and reported through
        /// <see cref="BackendError"/> (destination "collector", status Timeout), and the
        /// program goes on. It never throws for a timeout; <see cref="StopOrThrow"/> does.</summary>
        public void Stop()
        {
            var status = StopNative();
            // A timeout is already counted and reported natively; any other failure
            // (a backend that failed to close) still throws, as before.
            if (status != VizStatus.Ok && status != VizStatus.Timeout)
                throw VizErrors.For(status, VizErrors.LastMessage());
        }

        /// <summary>As <see cref="Stop"/>, but throws <see cref="TimeoutException"/> if the
        /// backends did not finish within the shutdown timeout.</summary>
        public void StopOrThrow()
        {
            var status = StopNative();
            if (status != VizStatus.Ok) throw VizErrors.For(status, VizErrors.LastMessage());
        }

        private VizStatus StopNative()
        {
            lock (gate)
            {
                if (stopped || collector == null) return VizStatus.Ok;
                stopped = true;
                retired.Add(collector);
                return (VizStatus)NativeMethods.viz_collector_stop(collector, config.TimeoutMs);
            }
        }

        /// <inheritdoc/>
        public bool IsRunning
        {
            get
            {
                var c = collector;
                return !stopped && c != null && !c.IsClosed && NativeMethods.viz_collector_is_running(c);
            }
        }

        /// <inheritdoc/>
        public int PendingEventCount
        {
            get
            {
                var c = collector;
                if (stopped || c == null || c.IsClosed) return 0;
                UIntPtr n;
                VizErrors.Check(NativeMethods.viz_collector_pending(c, out n));
                return (int)Math.Min(int.MaxValue, (ulong)n);
            }
        }

        /// <summary>Events with startStep &lt;= step &lt;= endStep from the first backend (flush first to include queued ones).</summary>
        public IEnumerable<Event> GetEvents(long startStep, long endStep)
        {
            EventsHandle result;
            VizErrors.Check(NativeMethods.viz_collector_get_events(Live, UIntPtr.Zero, startStep, endStep, out result));
            return EventReader.ReadAll(result);
        }

        /// <summary>The events backend number `backend` stores that a query selects: JSON such as
        /// {"tags": ["train/*"], "steps": [0, 1000], "where": {"lt": 0.1}, "order": "step_desc",
        /// "limit": 20}. A bad query throws ArgumentException naming the field, at once; the
        /// results are read `batch` at a time as they are enumerated, so LINQ composes over them.
        /// Flush first to include recent events.</summary>
        public IEnumerable<Event> Query(string queryJson, int backend = 0, int batch = 1000)
        {
            if (queryJson == null) throw new ArgumentNullException("queryJson");
            if (batch < 1) throw new ArgumentOutOfRangeException("batch", batch, "batch must be at least 1");
            CursorHandle cursor;
            VizErrors.Check(NativeMethods.viz_collector_query(Live, (UIntPtr)backend, Utf8.Encode(queryJson), out cursor));
            return EventReader.ReadCursor(cursor, batch);
        }

        /// <summary>The run's metadata (hyperparameters, config, code version, tags) as
        /// a dictionary: changes go, atomically, to every backend that keeps metadata
        /// (memory, file, and tensorboard as hyperparameters for its HPARAMS dashboard);
        /// reads come from the first backend that keeps it.</summary>
        public RunMetadata Metadata
        {
            get
            {
                return new RunMetadata(
                    json => NativeMethods.viz_collector_metadata_set(Live, json),
                    json => NativeMethods.viz_collector_metadata_delete(Live, json),
                    () => RunMetadata.Fetch(FirstMetadata));
            }
        }

        private int FirstMetadata(byte[] buf, UIntPtr len, out UIntPtr needed)
        {
            var c = Live;
            int count = Stats.Destinations.Count;
            int status = 0;
            needed = UIntPtr.Zero;
            for (int i = 0; i < count; i++)
            {
                status = NativeMethods.viz_collector_metadata_get(c, (UIntPtr)i, buf, len, out needed);
                if (status != (int)VizStatus.Unsupported) return status;
            }
            return status;
        }

        /// <summary>Per-tag statistics of the scalars backend number <paramref name="backend"/>
        /// stores that <paramref name="queryJson"/> selects (a query without order,
        /// offset or limit; null selects every tag), ordered by tag. The file:// log
        /// answers from its tag index. Flush first to include queued events.</summary>
        public IReadOnlyList<TagAggregate> Aggregate(string queryJson = null, int backend = 0)
        {
            AggregateListHandle list;
            VizErrors.Check(NativeMethods.viz_collector_aggregate(Live, (UIntPtr)backend, ReadResults.Selection(queryJson), out list));
            return ReadResults.Aggregates(list);
        }

        /// <summary>The selected scalars of backend number <paramref name="backend"/> cut into
        /// <paramref name="buckets"/> equal step ranges spanning firstStep..lastStep, each
        /// non-empty one with its count, min, max and mean, for plots.</summary>
        public IReadOnlyList<StepBucket> Downsample(string queryJson, long firstStep, long lastStep, int buckets, int backend = 0)
        {
            if (buckets < 0) throw new ArgumentOutOfRangeException("buckets", buckets, "buckets must be at least 1");
            BucketListHandle list;
            VizErrors.Check(NativeMethods.viz_collector_downsample(Live, (UIntPtr)backend, ReadResults.Selection(queryJson),
                firstStep, lastStep, (UIntPtr)buckets, out list));
            return ReadResults.Buckets(list);
        }

        /// <summary>The last stored event of each selected tag in backend number
        /// <paramref name="backend"/>, ordered by tag: the latest value of each.</summary>
        public IReadOnlyList<Event> Latest(string queryJson = null, int backend = 0)
        {
            EventsHandle events;
            VizErrors.Check(NativeMethods.viz_collector_latest(Live, (UIntPtr)backend, ReadResults.Selection(queryJson), out events));
            return EventReader.ReadAll(events).AsReadOnly();
        }

        /// <summary>Watches the collector live: <paramref name="onEvents"/> receives, on
        /// viz's watch thread, the events of each delivered batch that
        /// <paramref name="filterJson"/> selects (a query as for Query, without order,
        /// offset or limit; null selects everything). Dispose the subscription to stop:
        /// once Dispose returns the callback is not running and is not called again. A
        /// slow callback never slows the collector: batches it falls behind on are
        /// dropped for watchers only (WatchSubscription.Dropped). The watch ends when
        /// the collector stops. An exception in the callback is ignored.</summary>
        public WatchSubscription Subscribe(Action<IReadOnlyList<Event>> onEvents, string filterJson = null)
        {
            if (onEvents == null) throw new ArgumentNullException("onEvents");
            return WatchSubscription.Open(Live, onEvents, filterJson);
        }

        /// <summary>The events <paramref name="filterJson"/> selects, as they are
        /// delivered, for IObserver subscribers (one native watch per Subscribe;
        /// OnCompleted is never called, OnError never raised).</summary>
        public IObservable<Event> Watch(string filterJson = null)
        {
            return new WatchObservable(this, filterJson);
        }

        /// <summary>GetEvents without blocking the caller.</summary>
        public Task<IEnumerable<Event>> GetEventsAsync(long startStep, long endStep)
        {
            return Task.Run(() => GetEvents(startStep, endStep));
        }

        /// <summary>A snapshot of the native counters; after <see cref="Stop"/>, those of the
        /// stopped collector, so what a stop left undelivered can be read.</summary>
        public CollectorStats Stats
        {
            get
            {
                VizStats s;
                var h = collector;
                if (disposed) throw new ObjectDisposedException("AsyncEventCollector");
                if (h == null) throw new InvalidOperationException("the collector was never created");
                VizErrors.Check(NativeMethods.viz_collector_stats(h, out s));
                var destinations = new List<DestinationStats>();
                for (ulong i = 0; i < s.Destinations; i++)
                {
                    VizDestinationStats d;
                    VizErrors.Check(NativeMethods.viz_collector_destination_stats(h, new UIntPtr(i), out d));
                    destinations.Add(new DestinationStats(d));
                }
                return new CollectorStats(s, destinations);
            }
        }

        /// <summary>Exceptions C# backends and subscribers of this collector threw (each counted natively as a failed batch).</summary>
        public long BackendExceptions
        {
            get
            {
                long n = 0;
                foreach (var b in bridges) n += b.Failures;
                return n;
            }
        }

        /// <summary>The last exception a C# backend or subscriber threw, if any.</summary>
        public Exception LastBackendException
        {
            get
            {
                foreach (var b in bridges) if (b.LastException != null) return b.LastException;
                return null;
            }
        }

        private void Release()
        {
            foreach (var c in retired) c.Dispose();
            retired.Clear();
            if (collector != null) collector.Dispose();
            raw = IntPtr.Zero;
            // NativeStorageBackends own their handles; the bridges' handles are ours.
            foreach (var h in ownedHandles) h.Dispose();
            ownedHandles.Clear();
            foreach (var t in ownTypes) HostBackendBridge.Unregister(t);
            ownTypes.Clear();
        }

        /// <summary>Stops (delivering and flushing what was collected) and releases everything native.</summary>
        public void Dispose()
        {
            lock (gate)
            {
                if (disposed) return;
                // Dispose never throws: it runs in `using` and finalization paths,
                // where an exception would end the program. Stop's failures are in
                // the stats and were reported through BackendError.
                try { Stop(); }
                catch (Exception) { }
                finally
                {
                    disposed = true;
                    Release();
                }
            }
        }
    }

    /// <summary>A snapshot of a collector's counters.</summary>
    public sealed class CollectorStats
    {
        internal CollectorStats(VizStats s, List<DestinationStats> destinations)
        {
            Collected = (long)s.Collected; Queued = (long)s.Queued; PeakQueueLength = (long)s.PeakQueueLen;
            DroppedOldest = (long)s.DroppedOldest; DroppedNewest = (long)s.DroppedNewest;
            DroppedBlockTimeout = (long)s.DroppedBlockTimeout; Written = (long)s.Written;
            FailedBatches = (long)s.FailedBatches; Deliveries = (long)s.Deliveries; Flushes = (long)s.Flushes;
            DestinationQueued = (long)s.DestinationQueued; DestinationDropped = (long)s.DestinationDropped;
            HeldBytes = (long)s.HeldBytes; HeldEvents = (long)s.HeldEvents; Destinations = destinations.AsReadOnly();
        }

        /// <summary>Events handed to backends and not yet stored or dropped there, summed over backends.</summary>
        public long DestinationQueued { get; private set; }
        /// <summary>Events backends lost (queue full past the stall timeout, retries run out, a crash), summed.</summary>
        public long DestinationDropped { get; private set; }
        /// <summary>Bytes of events the collector holds now, against its byte budget.</summary>
        public long HeldBytes { get; private set; }
        /// <summary>Events the collector holds now, against MaxQueueLength.</summary>
        public long HeldEvents { get; private set; }
        /// <summary>Each backend's own counters, in the order they were given.</summary>
        public IReadOnlyList<DestinationStats> Destinations { get; private set; }

        /// <summary>Events accepted by Collect.</summary>
        public long Collected { get; private set; }
        /// <summary>Events in the native queues now.</summary>
        public long Queued { get; private set; }
        /// <summary>Largest queue length seen (the seed's peak size).</summary>
        public long PeakQueueLength { get; private set; }
        /// <summary>Events dropped because the queue was full (backpressure off).</summary>
        public long DroppedOldest { get; private set; }
        /// <summary>Events dropped by the drop-newest policy.</summary>
        public long DroppedNewest { get; private set; }
        /// <summary>Events dropped after blocking timed out.</summary>
        public long DroppedBlockTimeout { get; private set; }
        /// <summary>Events the backends accepted, summed over backends.</summary>
        public long Written { get; private set; }
        /// <summary>Failed backend calls (each retry counts), summed over backends.</summary>
        public long FailedBatches { get; private set; }
        /// <summary>Batches handed to backends.</summary>
        public long Deliveries { get; private set; }
        /// <summary>Flush cycles.</summary>
        public long Flushes { get; private set; }
    }

    /// <summary>A delivery failure or warning (AsyncEventCollector.BackendError).</summary>
    public sealed class BackendErrorEventArgs : EventArgs
    {
        internal BackendErrorEventArgs(string destination, VizStatus status, string message, long events, bool willRetry)
        {
            Destination = destination; Status = status; Message = message; Events = events; WillRetry = willRetry;
        }

        /// <summary>The native destination, type#index, such as "file#1".</summary>
        public string Destination { get; private set; }
        /// <summary>What kind of failure.</summary>
        public VizStatus Status { get; private set; }
        /// <summary>What went wrong.</summary>
        public string Message { get; private set; }
        /// <summary>Events the failed call carried (0 for a warning).</summary>
        public long Events { get; private set; }
        /// <summary>Whether those events are kept for another attempt (false: dropped).</summary>
        public bool WillRetry { get; private set; }
    }

    /// <summary>Passes a native collector's error reports to the BackendError handlers.
    /// Each native collector holds a GCHandle to the relay, which viz's finalizer frees
    /// once no delivery thread can call it; the relay refers to the collector weakly,
    /// so it never keeps it alive.</summary>
    internal sealed class ErrorRelay
    {
        // Static, so they outlive every native collector that may call them.
        private static readonly ErrorFn Callback = OnError;
        private static readonly FinalizerFn Finalizer = Release;
        private static int live;

        private readonly object gate = new object();
        private EventHandler<BackendErrorEventArgs> handlers;
        private WeakReference sender;

        /// <summary>GCHandles native collectors still hold.</summary>
        internal static int Live { get { return Volatile.Read(ref live); } }

        internal void Add(EventHandler<BackendErrorEventArgs> h, object from)
        {
            lock (gate) { handlers += h; sender = new WeakReference(from); }
        }

        internal void Remove(EventHandler<BackendErrorEventArgs> h)
        {
            lock (gate) handlers -= h;
        }

        internal void Attach(CollectorHandle c)
        {
            var gch = GCHandle.Alloc(this);
            Interlocked.Increment(ref live);
            int status = NativeMethods.viz_collector_on_error(c, Callback, GCHandle.ToIntPtr(gch), Finalizer);
            if (status != 0)
            {
                gch.Free();
                Interlocked.Decrement(ref live);
                VizErrors.Check(status);
            }
        }

        private static unsafe void OnError(IntPtr userdata, IntPtr report)
        {
            try
            {
                var relay = (ErrorRelay)GCHandle.FromIntPtr(userdata).Target;
                EventHandler<BackendErrorEventArgs> h;
                object from;
                lock (relay.gate) { h = relay.handlers; from = relay.sender != null ? relay.sender.Target : null; }
                if (h == null) return;
                var r = (VizErrorReport*)report;
                h(from, new BackendErrorEventArgs(Utf8.Decode(r->Destination), (VizStatus)r->Status, Utf8.Decode(r->Message),
                    (long)r->Events.ToUInt64(), r->WillRetry));
            }
            catch (Exception)
            {
                // Nothing may unwind into native code.
            }
        }

        private static void Release(IntPtr userdata)
        {
            GCHandle.FromIntPtr(userdata).Free();
            Interlocked.Decrement(ref live);
        }
    }

    /// <summary>A backend with the events it receives: some kinds, tags under some
    /// prefixes, or both (an event must match both). Null selects everything.</summary>
    public sealed class RoutedBackend
    {
        /// <summary>A backend receiving the events of <paramref name="kinds"/> whose tag
        /// starts with one of <paramref name="tagPrefixes"/>.</summary>
        public RoutedBackend(IStorageBackend backend, IEnumerable<EventKind> kinds = null, IEnumerable<string> tagPrefixes = null)
        {
            if (backend == null) throw new ArgumentNullException("backend");
            Backend = backend;
            Kinds = kinds == null ? null : new List<EventKind>(kinds).AsReadOnly();
            TagPrefixes = tagPrefixes == null ? null : new List<string>(tagPrefixes).AsReadOnly();
            if (Kinds != null && Kinds.Count == 0) throw new ArgumentException("kinds is empty, so the backend would receive nothing", "kinds");
        }

        /// <summary>The backend.</summary>
        public IStorageBackend Backend { get; private set; }
        /// <summary>The kinds it receives, or null for all.</summary>
        public IReadOnlyList<EventKind> Kinds { get; private set; }
        /// <summary>The tag prefixes it receives, or null for all.</summary>
        public IReadOnlyList<string> TagPrefixes { get; private set; }

        internal string ToJson()
        {
            var route = new Dictionary<string, object>();
            if (Kinds != null)
            {
                var names = new List<string>();
                foreach (var k in Kinds) names.Add(k.ToString().ToLowerInvariant());
                route["kinds"] = names;
            }
            if (TagPrefixes != null) route["tag_prefixes"] = TagPrefixes;
            return Json.Write(route);
        }
    }

    /// <summary>A live watch on a collector (AsyncEventCollector.Subscribe). Dispose
    /// cancels it.</summary>
    public sealed class WatchSubscription : IDisposable
    {
        // Static, so they outlive every native watch that may call them.
        private static readonly WatchFn Callback = OnEvents;
        private static readonly FinalizerFn Finalizer = Release;
        private static int live;
        private readonly SubscriptionHandle handle;

        private WatchSubscription(SubscriptionHandle handle) { this.handle = handle; }

        /// <summary>GCHandles native watches still hold.</summary>
        internal static int Live { get { return Volatile.Read(ref live); } }

        internal static WatchSubscription Open(CollectorHandle c, Action<IReadOnlyList<Event>> onEvents, string filterJson)
        {
            var gch = GCHandle.Alloc(onEvents);
            Interlocked.Increment(ref live);
            SubscriptionHandle h;
            // On failure viz calls the finalizer at once, which frees the GCHandle.
            VizErrors.Check(NativeMethods.viz_collector_subscribe(c, filterJson == null ? null : Utf8.Encode(filterJson),
                Callback, GCHandle.ToIntPtr(gch), Finalizer, out h));
            return new WatchSubscription(h);
        }

        /// <summary>Events handed to the callback so far.</summary>
        public long Delivered { get { return handle.IsClosed ? 0 : (long)NativeMethods.viz_subscription_delivered(handle); } }

        /// <summary>Events the callback missed because the watch thread had fallen behind.</summary>
        public long Dropped { get { return handle.IsClosed ? 0 : (long)NativeMethods.viz_subscription_dropped(handle); } }

        /// <summary>Whether the callback may still be called.</summary>
        public bool IsActive { get { return !handle.IsClosed && NativeMethods.viz_subscription_is_active(handle); } }

        /// <summary>Cancels the watch; safe to call twice and after the collector is disposed.</summary>
        public void Dispose() { handle.Dispose(); }

        private static unsafe void OnEvents(IntPtr userdata, IntPtr events, UIntPtr len)
        {
            try
            {
                var action = (Action<IReadOnlyList<Event>>)GCHandle.FromIntPtr(userdata).Target;
                int n = (int)len.ToUInt64();
                var list = new List<Event>(n);
                var v = (VizEvent*)events;
                for (int i = 0; i < n; i++) list.Add(EventReader.Read(v + i));
                action(list);
            }
            catch (Exception)
            {
                // Nothing may unwind into native code.
            }
        }

        private static void Release(IntPtr userdata)
        {
            GCHandle.FromIntPtr(userdata).Free();
            Interlocked.Decrement(ref live);
        }
    }

    /// <summary>AsyncEventCollector.Watch: each IObserver gets a native watch of its own.</summary>
    internal sealed class WatchObservable : IObservable<Event>
    {
        private readonly AsyncEventCollector collector;
        private readonly string filterJson;

        internal WatchObservable(AsyncEventCollector collector, string filterJson)
        {
            this.collector = collector; this.filterJson = filterJson;
        }

        public IDisposable Subscribe(IObserver<Event> observer)
        {
            if (observer == null) throw new ArgumentNullException("observer");
            return collector.Subscribe(events => { foreach (var e in events) observer.OnNext(e); }, filterJson);
        }
    }

    /// <summary>One backend's counters: with the collector's, they account for every event.</summary>
    public sealed class DestinationStats
    {
        internal DestinationStats(VizDestinationStats d)
        {
            Name = Utf8.Decode(d.Name); Written = (long)d.Written; Dropped = (long)d.Dropped;
            Retries = (long)d.Retries; FailedBatches = (long)d.FailedBatches; Flushes = (long)d.Flushes;
            Warnings = (long)d.Warnings; QueuedEvents = (long)d.QueuedEvents; QueuedBytes = (long)d.QueuedBytes;
            Panicked = d.Panicked;
        }

        /// <summary>The native name, type#index, such as "file#1".</summary>
        public string Name { get; private set; }
        /// <summary>Events the backend accepted.</summary>
        public long Written { get; private set; }
        /// <summary>Events this backend lost: its queue stayed full, retries ran out, or it crashed.</summary>
        public long Dropped { get; private set; }
        /// <summary>Retry attempts made.</summary>
        public long Retries { get; private set; }
        /// <summary>Backend calls that failed (each retry counts).</summary>
        public long FailedBatches { get; private set; }
        /// <summary>Successful flushes.</summary>
        public long Flushes { get; private set; }
        /// <summary>Problems the backend worked around and reported.</summary>
        public long Warnings { get; private set; }
        /// <summary>Events handed to it and not yet stored or dropped.</summary>
        public long QueuedEvents { get; private set; }
        /// <summary>Their bytes.</summary>
        public long QueuedBytes { get; private set; }
        /// <summary>Whether the backend crashed; it receives nothing more.</summary>
        public bool Panicked { get; private set; }
    }

    /// <summary>How a run ended (<see cref="AsyncEventCollector.SetRunStatus"/>); the values are viz.h's <c>viz_run_status</c>.</summary>
    public enum RunStatus : uint
    {
        /// <summary>Ended normally.</summary>
        Finished = 0,
        /// <summary>Ended by an error.</summary>
        Failed = 1,
        /// <summary>Stopped from outside.</summary>
        Killed = 2,
    }

    /// <summary>An object-store destination's replication status (an <c>s3://</c> backend). Pending
    /// counts are taken at each upload pass (every 500 ms, and at Sync).</summary>
    public sealed class ReplicationStats
    {
        internal ReplicationStats(VizReplicationStats r)
        {
            SegmentsUploaded = (long)r.SegmentsUploaded; BytesUploaded = (long)r.BytesUploaded;
            SegmentsPending = (long)r.SegmentsPending; BytesPending = (long)r.BytesPending;
            OldestPendingMs = (long)r.OldestPendingMs; Uploads = (long)r.Uploads; Failures = (long)r.Failures;
            Failing = r.Failing != 0;
        }

        /// <summary>Segments this process uploaded.</summary>
        public long SegmentsUploaded { get; private set; }
        /// <summary>Their bytes.</summary>
        public long BytesUploaded { get; private set; }
        /// <summary>Segments in staging not yet in the store (the active one included).</summary>
        public long SegmentsPending { get; private set; }
        /// <summary>Their bytes.</summary>
        public long BytesPending { get; private set; }
        /// <summary>Age in milliseconds of the oldest pending segment (0: none).</summary>
        public long OldestPendingMs { get; private set; }
        /// <summary>Requests the store answered with success.</summary>
        public long Uploads { get; private set; }
        /// <summary>Upload passes that failed and will be retried.</summary>
        public long Failures { get; private set; }
        /// <summary>Whether the last pass failed (the store unreachable or refusing).</summary>
        public bool Failing { get; private set; }
    }

    /// <summary>A remote destination's spool and delivery counters (an <c>mlflow+http://</c> backend).</summary>
    public sealed class RemoteStats
    {
        internal RemoteStats(VizRemoteStats r)
        {
            Depth = (long)r.Depth; SpoolBytes = (long)r.SpoolBytes; OldestUnsentMs = (long)r.OldestUnsentMs;
            Delivered = (long)r.Delivered; Sends = (long)r.Sends; Failures = (long)r.Failures;
            Redeliveries = (long)r.Redeliveries; Duplicates = (long)r.Duplicates; Rejected = (long)r.Rejected;
            SpoolFullDrops = (long)r.SpoolFullDrops;
        }

        /// <summary>Events in the spool not yet acknowledged by the server.</summary>
        public long Depth { get; private set; }
        /// <summary>Bytes of the spool on disk.</summary>
        public long SpoolBytes { get; private set; }
        /// <summary>Age in milliseconds of the oldest unacknowledged event (0: none).</summary>
        public long OldestUnsentMs { get; private set; }
        /// <summary>Events the server acknowledged.</summary>
        public long Delivered { get; private set; }
        /// <summary>Requests that succeeded.</summary>
        public long Sends { get; private set; }
        /// <summary>Attempts that failed and will be retried.</summary>
        public long Failures { get; private set; }
        /// <summary>Events sent again after a failed or timed-out attempt.</summary>
        public long Redeliveries { get; private set; }
        /// <summary>Events sent again that an earlier attempt may already have delivered.</summary>
        public long Duplicates { get; private set; }
        /// <summary>Items the server refused for good (dropped, and reported to the error callback).</summary>
        public long Rejected { get; private set; }
        /// <summary>Events dropped because the spool was full (<c>spool_full=drop</c>).</summary>
        public long SpoolFullDrops { get; private set; }
    }

    /// <summary>Presents a subscriber as a write-only backend; a batch it throws on is not redelivered.</summary>
    internal sealed class SubscriberBackend : IStorageBackend
    {
        private readonly IEventSubscriber subscriber;
        private long count;

        internal SubscriberBackend(IEventSubscriber subscriber) { this.subscriber = subscriber; }

        public void Initialize(string connectionString) { IsInitialized = true; }
        public void Shutdown() { IsInitialized = false; }
        public bool IsInitialized { get; private set; }
        public void StoreEvent(Event eventData) { StoreEvents(new[] { eventData }); }
        public Task StoreEventAsync(Event eventData) { return Task.Run(() => StoreEvent(eventData)); }

        public void StoreEvents(IEnumerable<Event> events)
        {
            var batch = new List<Event>(events);
            Interlocked.Add(ref count, batch.Count);
            subscriber.OnEvents(batch);
        }

        public Task StoreEventsAsync(IEnumerable<Event> events) { return Task.Run(() => StoreEvents(events)); }

        public IEnumerable<Event> GetEvents(long startStep, long endStep)
        {
            throw new NotSupportedException("subscribers are write-only: GetEvents is not supported");
        }

        public Task<IEnumerable<Event>> GetEventsAsync(long startStep, long endStep)
        {
            return Task.Run(() => GetEvents(startStep, endStep));
        }

        public void Flush() { }
        public Task FlushAsync() { return Task.FromResult(true); }
        public long EventCount { get { return Interlocked.Read(ref count); } }
        public void Clear() { Interlocked.Exchange(ref count, 0); }
    }
}
