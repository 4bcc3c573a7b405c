using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using MLFramework.Visualization.Native;

namespace MLFramework.Visualization.Storage
{
    /// <summary>
    /// A backend implemented natively by viz ("file", "tensorboard", "memory", "jsonl", or
    /// a type registered in native code). Given to an AsyncEventCollector, the collector
    /// writes this very instance, so GetEvents here sees what it delivered.
    /// </summary>
    public sealed unsafe class NativeStorageBackend : IStorageBackend, IDisposable
    {
        private StorageHandle handle;
        private readonly string backendType;

        /// <summary>An unopened backend; Initialize opens it (the type comes from the scheme).</summary>
        public NativeStorageBackend() { }

        /// <summary>Opens a backend of backendType (null: the scheme's) for connectionString.</summary>
        public NativeStorageBackend(string backendType, string connectionString)
        {
            this.backendType = backendType;
            Initialize(connectionString);
        }

        /// <summary>The connection string it was opened with.</summary>
        public string ConnectionString { get; private set; }

        internal StorageHandle Handle
        {
            get
            {
                if (handle == null || handle.IsClosed) throw new ObjectDisposedException("NativeStorageBackend");
                return handle;
            }
        }

        /// <inheritdoc/>
        public void Initialize(string connectionString)
        {
            if (connectionString == null) throw new ArgumentNullException("connectionString");
            if (handle != null && !handle.IsClosed && IsInitialized)
                throw new InvalidOperationException("the backend is already initialized with " + ConnectionString);
            StorageHandle h;
            VizErrors.Check(NativeMethods.viz_storage_open(Utf8.Encode(backendType), Utf8.Encode(connectionString), out h));
            if (handle != null) handle.Dispose();
            handle = h;
            ConnectionString = connectionString;
        }

        /// <inheritdoc/>
        public void Shutdown()
        {
            if (handle == null || handle.IsClosed) return;
            VizErrors.Check(NativeMethods.viz_storage_shutdown(handle));
        }

        /// <inheritdoc/>
        public bool IsInitialized
        {
            get { return handle != null && !handle.IsClosed && NativeMethods.viz_storage_is_initialized(handle); }
        }

        /// <inheritdoc/>
        public void StoreEvent(Event eventData)
        {
            if (eventData == null) throw new ArgumentNullException("eventData");
            StoreEvents(new[] { eventData });
        }

        /// <inheritdoc/>
        public void StoreEvents(IEnumerable<Event> events)
        {
            if (events == null) throw new ArgumentNullException("events");
            var list = events as IList<Event> ?? new List<Event>(events);
            using (var pinned = new PinnedEvents(list))
            {
                fixed (VizEvent* views = pinned.Views)
                    VizErrors.Check(NativeMethods.viz_storage_store(Handle, views, (UIntPtr)list.Count));
            }
        }

        /// <inheritdoc/>
        public Task StoreEventAsync(Event eventData) { return Task.Run(() => StoreEvent(eventData)); }

        /// <inheritdoc/>
        public Task StoreEventsAsync(IEnumerable<Event> events) { return Task.Run(() => StoreEvents(events)); }

        /// <inheritdoc/>
        public IEnumerable<Event> GetEvents(long startStep, long endStep)
        {
            EventsHandle result;
            VizErrors.Check(NativeMethods.viz_storage_get_events(Handle, startStep, endStep, out result));
            return EventReader.ReadAll(result);
        }

        /// <summary>The stored events a query selects (JSON, as for AsyncEventCollector.Query),
        /// read `batch` at a time as they are enumerated.</summary>
        public IEnumerable<Event> Query(string queryJson, int batch = 1000)
        {
            if (queryJson == null) throw new ArgumentNullException("queryJson");
            if (batch < 1) throw new ArgumentOutOfRangeException("batch", batch, "batch must be at least 1");
            CursorHandle cursor;
            VizErrors.Check(NativeMethods.viz_storage_query(Handle, Utf8.Encode(queryJson), out cursor));
            return EventReader.ReadCursor(cursor, batch);
        }

        /// <summary>Opens a transaction (seed 002's TransactionManager): the stores and
        /// metadata changes until Commit land together; disposing without Commit rolls
        /// them back. sqlite has transactions; others throw NotSupportedException.</summary>
        public StorageTransaction BeginTransaction()
        {
            VizErrors.Check(NativeMethods.viz_storage_transaction_begin(Handle));
            return new StorageTransaction(Handle);
        }

        /// <summary>The run metadata this backend keeps (memory, file), as a dictionary.</summary>
        public RunMetadata Metadata
        {
            get
            {
                return new RunMetadata(
                    json => NativeMethods.viz_storage_metadata_set(Handle, json),
                    json => NativeMethods.viz_storage_metadata_delete(Handle, json),
                    () => RunMetadata.Fetch((byte[] b, UIntPtr n, out UIntPtr needed) =>
                        NativeMethods.viz_storage_metadata_get(Handle, b, n, out needed)));
            }
        }

        /// <summary>Per-tag statistics of the selected scalars, ordered by tag
        /// (a query without order, offset or limit; null selects every tag).</summary>
        public IReadOnlyList<TagAggregate> Aggregate(string queryJson = null)
        {
            AggregateListHandle list;
            VizErrors.Check(NativeMethods.viz_storage_aggregate(Handle, ReadResults.Selection(queryJson), out list));
            return ReadResults.Aggregates(list);
        }

        /// <summary>The selected scalars cut into <paramref name="buckets"/> equal step
        /// ranges spanning firstStep..lastStep, each non-empty one with its count,
        /// min, max and mean: a plot of a million points reads a thousand.</summary>
        public IReadOnlyList<StepBucket> Downsample(string queryJson, long firstStep, long lastStep, int buckets)
        {
            if (buckets < 0) throw new ArgumentOutOfRangeException("buckets", buckets, "buckets must be at least 1");
            BucketListHandle list;
            VizErrors.Check(NativeMethods.viz_storage_downsample(Handle, ReadResults.Selection(queryJson), firstStep,
                lastStep, (UIntPtr)buckets, out list));
            return ReadResults.Buckets(list);
        }

        /// <summary>The last stored event of each selected tag, ordered by tag.</summary>
        public IReadOnlyList<Event> Latest(string queryJson = null)
        {
            EventsHandle events;
            VizErrors.Check(NativeMethods.viz_storage_latest(Handle, ReadResults.Selection(queryJson), out events));
            return EventReader.ReadAll(events).AsReadOnly();
        }

        /// <inheritdoc/>
        public Task<IEnumerable<Event>> GetEventsAsync(long startStep, long endStep)
        {
            return Task.Run(() => GetEvents(startStep, endStep));
        }

        /// <inheritdoc/>
        public void Flush() { VizErrors.Check(NativeMethods.viz_storage_flush(Handle)); }

        /// <inheritdoc/>
        public Task FlushAsync() { return Task.Run(() => Flush()); }

        /// <inheritdoc/>
        public long EventCount
        {
            get
            {
                ulong n;
                VizErrors.Check(NativeMethods.viz_storage_event_count(Handle, out n));
                return (long)n;
            }
        }

        /// <inheritdoc/>
        public void Clear() { VizErrors.Check(NativeMethods.viz_storage_clear(Handle)); }

        /// <summary>Flushes and releases the native instance (a collector still using it keeps it open until it is done).</summary>
        public void Dispose()
        {
            if (handle == null) return;
            try { if (!handle.IsClosed && IsInitialized) Flush(); }
            finally { handle.Dispose(); }
        }
    }

    /// <summary>An open transaction (NativeStorageBackend.BeginTransaction): Commit, or
    /// Dispose to roll back.</summary>
    public sealed class StorageTransaction : IDisposable
    {
        private readonly StorageHandle handle;
        private bool done;

        internal StorageTransaction(StorageHandle handle) { this.handle = handle; }

        /// <summary>Commits everything since it began.</summary>
        public void Commit()
        {
            if (done) throw new InvalidOperationException("the transaction is already finished");
            done = true;
            VizErrors.Check(NativeMethods.viz_storage_transaction_commit(handle));
        }

        /// <summary>Rolls back unless committed.</summary>
        public void Dispose()
        {
            if (done) return;
            done = true;
            VizErrors.Check(NativeMethods.viz_storage_transaction_rollback(handle));
        }
    }
}
