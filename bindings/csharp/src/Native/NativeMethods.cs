// P/Invoke declarations for include/viz.h. Every import is Cdecl; strings go in as
// NUL-terminated UTF-8 byte arrays (Utf8.Encode) and come out through Utf8.Decode,
// so no marshaller guesses an encoding; bool is marshalled as one byte.
using System;
using System.Runtime.InteropServices;

namespace MLFramework.Visualization.Native
{
    /// <summary>viz_event: one event of any kind (see viz.h).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct VizEvent
    {
        public uint Kind;
        public IntPtr Tag;
        public long Step;
        public double WallTime;
        public uint Priority;
        public double Scalar;
        public IntPtr Text;
        public IntPtr Values;
        public UIntPtr ValuesLen;
        public uint Bins;
        public IntPtr BucketLimits;
        public IntPtr BucketCounts;
        public UIntPtr BucketsLen;
        public IntPtr Data;
        public UIntPtr DataLen;
        public uint Width;
        public uint Height;
        public uint Channels;
        public uint DType;
        public IntPtr Shape;
        public UIntPtr ShapeLen;
        public IntPtr ContentType;
    }

    /// <summary>viz_stats: a collector's counters.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct VizStats
    {
        public ulong Collected, Queued, Staged, PeakQueueLen, DroppedOldest, DroppedNewest,
            DroppedBlockTimeout, RescuedCritical, LostAtStop, Written, FailedBatches,
            Deliveries, Flushes, ProducerLanes, DestinationQueued, DestinationDropped,
            HeldBytes, HeldEvents, Destinations;
    }

    /// <summary>viz_destination_stats: one destination's counters.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct VizDestinationStats
    {
        public IntPtr Name;
        public ulong Written, Dropped, Retries, FailedBatches, Flushes, Warnings, QueuedEvents, QueuedBytes;
        [MarshalAs(UnmanagedType.U1)] public bool Panicked;
    }

    /// <summary>viz_replication_stats.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct VizReplicationStats
    {
        public ulong SegmentsUploaded, BytesUploaded, SegmentsPending, BytesPending, OldestPendingMs, Uploads, Failures;
        public uint Failing;
    }

    /// <summary>viz_remote_stats.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct VizRemoteStats
    {
        public ulong Depth, SpoolBytes, OldestUnsentMs, Delivered, Sends, Failures, Redeliveries, Duplicates, Rejected,
            SpoolFullDrops;
    }


    /// <summary>viz_overflow_policy.</summary>
    internal enum VizOverflowPolicy : uint
    {
        Block = 0,
        DropOldest = 1,
        DropNewest = 2,
    }

    /// <summary>viz_wall_clock.</summary>
    internal enum VizWallClock : uint
    {
        Coarse = 0,
        Precise = 1,
    }

    /// <summary>viz_collector_config: typed collector settings, here only to read the library's defaults.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct VizCollectorConfig
    {
        public UIntPtr BufferCapacity;
        public ulong FlushIntervalMs;
        public UIntPtr BatchSize;
        public uint Strategy;
        public uint Overflow;
        public ulong BlockTimeoutMs;
        public UIntPtr MaxQueueLength;
        public uint WallClock;
        public ulong MaxPollIntervalMs;
        public UIntPtr DestinationQueueBatches;
        public ulong DestinationStallTimeoutMs;
        public ulong ShutdownTimeoutMs;
        public uint RetryMaxAttempts;
        public ulong RetryInitialBackoffMs;
        public ulong RetryMaxBackoffMs;
        public UIntPtr RetryMaxPendingEvents;
        public ulong MaxHeldBytes;
        public ulong MaxHeldEvents;
    }

    /// <summary>viz_backend_vtable: function pointers of a host-defined backend.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct VizBackendVTable
    {
        public IntPtr Init, StoreBatch, GetEvents, Flush, EventCount, Clear, Shutdown;
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate int InitFn(IntPtr userdata, IntPtr connectionString, IntPtr instance);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate int StoreBatchFn(IntPtr userdata, IntPtr events, UIntPtr len);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate int GetEventsFn(IntPtr userdata, long startStep, long endStep, IntPtr sink);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate int UserdataFn(IntPtr userdata);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate ulong EventCountFn(IntPtr userdata);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void FinalizerFn(IntPtr userdata);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void ErrorFn(IntPtr userdata, IntPtr report);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void WatchFn(IntPtr userdata, IntPtr events, UIntPtr len);

    /// <summary>viz_aggregate: one tag's scalar statistics.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct VizAggregate
    {
        public IntPtr Tag;
        public ulong Count;
        public double Min, Max, Mean;
        public long FirstStep;
        public double First;
        public long LastStep;
        public double Last;
    }

    /// <summary>viz_cache_stats: the read cache's counters.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct VizCacheStats
    {
        public ulong Hits, Misses, Evictions, Rebuilds, Entries, Bytes, Capacity;
    }

    /// <summary>viz_bucket: one step bucket of a downsampled series.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct VizBucket
    {
        public long FirstStep, LastStep;
        public ulong Count;
        public double Min, Max, Mean;
    }

    /// <summary>viz_error_report: a delivery failure or warning.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct VizErrorReport
    {
        public IntPtr Destination;
        public int Status;
        public IntPtr Message;
        public UIntPtr Events;
        [MarshalAs(UnmanagedType.U1)] public bool WillRetry;
    }

    internal static unsafe class NativeMethods
    {
        private const string Lib = "viz";

        /// <summary>The C ABI this binding was written for (viz.h's VIZ_ABI_VERSION).</summary>
        internal const uint AbiVersion = 5;

        /// <summary>Refuses a libviz of another ABI before any other call reaches it.</summary>
        static NativeMethods()
        {
            uint loaded = viz_abi_version();
            if (loaded != AbiVersion)
                throw new InvalidOperationException("libviz has C ABI version " + loaded + ", but MLFramework.Visualization was written for ABI version " + AbiVersion + ": use the libviz built from the same source");
        }

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_config_default(out VizCollectorConfig config);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern UIntPtr viz_last_error_message(byte* buf, UIntPtr len);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint viz_abi_version();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_new(byte[] configJson, out CollectorHandle collector);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_new_with_storage(
            byte[] configJson, IntPtr[] storages, UIntPtr n, out CollectorHandle collector);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_close(IntPtr collector, uint timeoutMs);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_start(CollectorHandle collector);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_stop(CollectorHandle collector, uint timeoutMs);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.U1)]
        internal static extern bool viz_collector_is_running(CollectorHandle collector);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_pending(CollectorHandle collector, out UIntPtr pending);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_stats(CollectorHandle collector, out VizStats stats);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_destination_stats(CollectorHandle collector, UIntPtr index, out VizDestinationStats stats);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_tag_intern(CollectorHandle collector, byte[] tag, out uint id);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_collect_scalar_id(CollectorHandle collector, uint tagId, long step, double value);

        /// <summary>The hot path, on a raw handle the caller keeps alive (no SafeHandle marshalling per call).</summary>
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "viz_collector_collect_scalar_id")]
        internal static extern int viz_collect_scalar_id_raw(IntPtr collector, uint tagId, long step, double value);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_collect(CollectorHandle collector, VizEvent* e);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_flush(CollectorHandle collector, uint timeoutMs);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_wait_acknowledged(CollectorHandle collector, uint timeoutMs);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_sync(CollectorHandle collector, uint timeoutMs);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_set_run_status(CollectorHandle collector, uint status);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_remote_stats(CollectorHandle collector, UIntPtr index, out VizRemoteStats stats);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_replication_stats(CollectorHandle collector, UIntPtr index, out VizReplicationStats stats);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_get_events(CollectorHandle collector, UIntPtr backendIndex,
            long startStep, long endStep, out EventsHandle events);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_on_error(CollectorHandle collector, ErrorFn callback, IntPtr userdata, FinalizerFn finalizer);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_query(CollectorHandle collector, UIntPtr backendIndex,
            byte[] queryJson, out CursorHandle cursor);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_subscribe(CollectorHandle collector, byte[] filterJson, WatchFn callback,
            IntPtr userdata, FinalizerFn finalizer, out SubscriptionHandle subscription);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ulong viz_subscription_delivered(SubscriptionHandle subscription);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ulong viz_subscription_dropped(SubscriptionHandle subscription);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.U1)]
        internal static extern bool viz_subscription_is_active(SubscriptionHandle subscription);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void viz_subscription_free(IntPtr subscription);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_aggregate(CollectorHandle collector, UIntPtr backendIndex,
            byte[] queryJson, out AggregateListHandle list);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_downsample(CollectorHandle collector, UIntPtr backendIndex,
            byte[] queryJson, long firstStep, long lastStep, UIntPtr buckets, out BucketListHandle list);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_latest(CollectorHandle collector, UIntPtr backendIndex,
            byte[] queryJson, out EventsHandle events);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_storage_aggregate(StorageHandle storage, byte[] queryJson, out AggregateListHandle list);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_storage_downsample(StorageHandle storage, byte[] queryJson, long firstStep,
            long lastStep, UIntPtr buckets, out BucketListHandle list);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_storage_latest(StorageHandle storage, byte[] queryJson, out EventsHandle events);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_metadata_set(CollectorHandle collector, byte[] jsonObject);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_metadata_delete(CollectorHandle collector, byte[] keysJson);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_collector_metadata_get(CollectorHandle collector, UIntPtr backendIndex, byte[] buf,
            UIntPtr len, out UIntPtr needed);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_storage_metadata_set(StorageHandle storage, byte[] jsonObject);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_storage_metadata_delete(StorageHandle storage, byte[] keysJson);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_storage_metadata_get(StorageHandle storage, byte[] buf, UIntPtr len, out UIntPtr needed);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_storage_transaction_begin(StorageHandle storage);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_storage_transaction_commit(StorageHandle storage);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_storage_transaction_rollback(StorageHandle storage);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_read_cache_stats(out VizCacheStats stats);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_read_cache_configure(ulong capacityBytes, ulong ttlMs);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_run_repository_open(byte[] root, out RunRepositoryHandle repository);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_run_repository_names(RunRepositoryHandle repository, byte[] buf, UIntPtr len, out UIntPtr needed);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_run_repository_list(RunRepositoryHandle repository, byte[] filterJson, byte[] buf,
            UIntPtr len, out UIntPtr needed);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_run_repository_query(RunRepositoryHandle repository, byte[] name, byte[] queryJson,
            out CursorHandle cursor);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_run_repository_delete(RunRepositoryHandle repository, byte[] name);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void viz_run_repository_free(IntPtr repository);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_log_tail_open(byte[] dir, ulong offset, out LogTailHandle tail);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_log_tail_next(LogTailHandle tail, UIntPtr max, out EventsHandle events);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ulong viz_log_tail_offset(LogTailHandle tail);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ulong viz_log_tail_damage(LogTailHandle tail);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void viz_log_tail_free(IntPtr tail);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern UIntPtr viz_aggregate_list_len(AggregateListHandle list);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern VizAggregate* viz_aggregate_list_get(AggregateListHandle list, UIntPtr index);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void viz_aggregate_list_free(IntPtr list);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern UIntPtr viz_bucket_list_len(BucketListHandle list);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern VizBucket* viz_bucket_list_get(BucketListHandle list, UIntPtr index);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void viz_bucket_list_free(IntPtr list);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_storage_query(StorageHandle storage, byte[] queryJson, out CursorHandle cursor);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_cursor_next(CursorHandle cursor, UIntPtr max, out EventsHandle events);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void viz_cursor_free(IntPtr cursor);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern UIntPtr viz_event_list_len(EventsHandle events);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern VizEvent* viz_event_list_get(EventsHandle events, UIntPtr index);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void viz_event_list_free(IntPtr events);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_event_sink_push(IntPtr sink, VizEvent* e);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_backend_register(byte[] typeName, ref VizBackendVTable vtable,
            IntPtr userdata, IntPtr finalizer);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_backend_unregister(byte[] typeName);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_backend_set_error(byte[] message);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_storage_open(byte[] backendType, byte[] connectionString, out StorageHandle storage);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_storage_store(StorageHandle storage, VizEvent* events, UIntPtr len);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_storage_get_events(StorageHandle storage, long startStep, long endStep,
            out EventsHandle events);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_storage_flush(StorageHandle storage);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_storage_event_count(StorageHandle storage, out ulong count);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_storage_clear(StorageHandle storage);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int viz_storage_shutdown(StorageHandle storage);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.U1)]
        internal static extern bool viz_storage_is_initialized(StorageHandle storage);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void viz_storage_free(IntPtr storage);
    }
}
