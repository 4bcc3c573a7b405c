// The C# binding's tests: a self-contained runner (no test framework needed, so Mono's
// mcs builds it). Each test throws on failure; the run ends with "N passed, M failed".
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using MLFramework.Visualization;
using MLFramework.Visualization.Collection;
using MLFramework.Visualization.Storage;

static class Assert
{
    public static void True(bool cond, string what)
    {
        if (!cond) throw new Exception("assertion failed: " + what);
    }

    public static void Equal<T>(T want, T got, string what)
    {
        if (!EqualityComparer<T>.Default.Equals(want, got))
            throw new Exception(what + ": want " + want + ", got " + got);
    }

    public static TE Throws<TE>(Action a, string needle) where TE : Exception
    {
        try { a(); }
        catch (TE e)
        {
            if (e.GetType() != typeof(TE))
                throw new Exception("want exactly " + typeof(TE).Name + ", got " + e.GetType().Name + ": " + e.Message);
            if (needle != null && e.Message.IndexOf(needle, StringComparison.Ordinal) < 0)
                throw new Exception(typeof(TE).Name + " message \"" + e.Message + "\" lacks \"" + needle + "\"");
            return e;
        }
        catch (Exception e)
        {
            throw new Exception("want " + typeof(TE).Name + ", got " + e.GetType().Name + ": " + e.Message);
        }
        throw new Exception("want " + typeof(TE).Name + ", nothing was thrown");
    }
}

/// A C# backend: keeps events in a list; can fail on purpose.
sealed class ListBackend : StorageBackendBase
{
    public readonly List<Event> Written = new List<Event>();
    public int FailEvery;
    public int Writes;
    public int Flushes;
    public int Shutdowns;
    public string OpenedWith;

    public ListBackend(StorageConfiguration config = null) : base(config) { }

    protected override void OnInitialize(string connectionString) { OpenedWith = connectionString; }

    protected override void WriteEvents(IReadOnlyList<Event> events)
    {
        Writes++;
        if (FailEvery > 0 && Writes % FailEvery == 0) throw new IOException("disk on fire (write " + Writes + ")");
        lock (Written) Written.AddRange(events);
    }

    protected override IEnumerable<Event> ReadEvents(long startStep, long endStep)
    {
        lock (Written) return Written.Where(e => e.Step >= startStep && e.Step <= endStep).ToList();
    }

    protected override void OnFlush() { Flushes++; }
    protected override void OnClear() { lock (Written) Written.Clear(); }
    protected override void OnShutdown() { Shutdowns++; }

    public int Count { get { lock (Written) return Written.Count; } }
}

/// A C# backend that takes 20 ms a batch, as a slow disk or network would.
sealed class SlowBackend : StorageBackendBase
{
    public long Stored;
    public SlowBackend() : base(new StorageConfiguration { ConnectionString = "slow://", EnableAsyncWrites = false }) { }
    protected override void OnInitialize(string connectionString) { }
    protected override void WriteEvents(IReadOnlyList<Event> events)
    {
        Thread.Sleep(20);
        Interlocked.Add(ref Stored, events.Count);
    }
    protected override IEnumerable<Event> ReadEvents(long startStep, long endStep) { return new List<Event>(); }
    protected override void OnFlush() { }
    protected override void OnClear() { }
    protected override void OnShutdown() { }
}

sealed class CountingSubscriber : IEventSubscriber
{
    public long Seen;
    public bool Throw;
    public void OnEvents(IReadOnlyList<Event> events)
    {
        Interlocked.Add(ref Seen, events.Count);
        if (Throw) throw new InvalidOperationException("subscriber failed on purpose");
    }
}

static class Tests
{
    static readonly byte[] Png2x1 = { 0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 0x1a, 10, 0, 0, 0, 13,
        (byte)'I', (byte)'H', (byte)'D', (byte)'R', 0, 0, 0, 2, 0, 0, 0, 1, 8, 6, 0, 0, 0 };

    static string TempDir(string name)
    {
        var d = Path.Combine(Path.GetTempPath(), "viz-cs-" + name + "-" + System.Diagnostics.Process.GetCurrentProcess().Id);
        if (Directory.Exists(d)) Directory.Delete(d, true);
        return d;
    }

    static List<Event> EveryKind()
    {
        var at = new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        return new List<Event>
        {
            new ScalarEvent("cs/loss", 1, 0.25) { WallTime = at },
            new HistogramEvent("cs/w", 2, new[] { 1.0, 2.0, 2.0, 3.0 }, 3) { WallTime = at },
            new TextEvent("cs/note", 3, "héllo ✓") { WallTime = at, Priority = EventPriority.Critical },
            new ImageEvent("cs/img", 4, Png2x1, 2, 1, 4) { WallTime = at },
            TensorEvent.FromFloats("cs/t", 5, new[] { 1f, 2f, 3f, 4f }, 2, 2),
            new RawEvent("cs/raw", 6, "text/csv", new byte[] { 97, 44, 98 }),
        };
    }

    static void CheckEveryKind(List<Event> got)
    {
        Assert.Equal(6, got.Count, "events read back");
        var s = (ScalarEvent)got[0];
        Assert.Equal("cs/loss", s.Tag, "tag");
        Assert.Equal(0.25, s.Value, "scalar");
        Assert.Equal(new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc), s.WallTime.Value, "wall time");
        var h = (HistogramEvent)got[1];
        Assert.Equal(3, h.BucketLimits.Length, "histogram buckets");
        Assert.Equal(4.0, h.BucketCounts.Sum(), "histogram count");
        Assert.Equal("héllo ✓", ((TextEvent)got[2]).Text, "text (UTF-8)");
        Assert.Equal(EventPriority.Critical, got[2].Priority, "priority");
        var img = (ImageEvent)got[3];
        Assert.True(img.Png.SequenceEqual(Png2x1) && img.Width == 2 && img.Height == 1, "image");
        var t = (TensorEvent)got[4];
        Assert.True(t.DType == DType.F32 && t.Shape.SequenceEqual(new long[] { 2, 2 }) && t.Data.Length == 16, "tensor");
        Assert.True(got[4].WallTime.HasValue, "collected events are stamped");
        var raw = (RawEvent)got[5];
        Assert.True(raw.ContentType == "text/csv" && raw.Data.Length == 3, "raw");
    }

    static void NativeStorageBackendIsTheSeedInterface()
    {
        using (var b = (NativeStorageBackend)StorageBackendFactory.Default.CreateBackend("memory", "memory://"))
        {
            Assert.True(b.IsInitialized, "open");
            b.StoreEvents(EveryKind());
            b.StoreEventAsync(new ScalarEvent("cs/x", 7, 1)).Wait();
            b.StoreEventsAsync(new[] { new ScalarEvent("cs/x", 8, 2) }).Wait();
            Assert.Equal(8L, b.EventCount, "count");
            CheckEveryKind(b.GetEvents(0, 6).ToList());
            Assert.Equal(2, b.GetEventsAsync(7, 8).Result.Count(), "async read");
            b.Flush();
            b.FlushAsync().Wait();
            b.Clear();
            Assert.Equal(0L, b.EventCount, "cleared");
            b.Shutdown();
            Assert.True(!b.IsInitialized, "shut down");
            Assert.Throws<InvalidOperationException>(() => b.StoreEvent(new ScalarEvent("cs/x", 1, 1)), "not initialized");
        }
    }

    static void CollectorDeliversEveryKindAndReadsBack()
    {
        var storage = new NativeStorageBackend(null, "memory://");
        using (var c = new AsyncEventCollector(storage))
        {
            Assert.True(!c.IsRunning, "not running before Start");
            foreach (var e in EveryKind()) c.Collect(e);
            Assert.Equal(6, c.PendingEventCount, "pending before Start");
            c.Start();
            Assert.True(c.IsRunning, "running");
            c.CollectAsync(new ScalarEvent("cs/async", 9, 9)).Wait();
            c.FlushAsync().Wait();
            Assert.Equal(0, c.PendingEventCount, "pending after flush");
            var got = c.GetEvents(0, 6).ToList();
            CheckEveryKind(got);
            Assert.Equal(1, c.GetEventsAsync(9, 9).Result.Count(), "async read");
            Assert.Equal(7, storage.GetEvents(0, 100).Count(), "the storage object sees what the collector wrote");
            Assert.Equal(7L, c.Stats.Written, "stats.written");
            c.Stop();
            Assert.True(!c.IsRunning, "stopped");
            Assert.Throws<InvalidOperationException>(() => c.Collect(new ScalarEvent("cs/x", 1, 1)), "call Start");
            c.Start();
            c.Collect(new ScalarEvent("cs/again", 10, 1));
            c.Flush();
            Assert.Equal(8, storage.GetEvents(0, 100).Count(), "restarted collector delivers to the same storage");
        }
        storage.Dispose();
    }

    static void DisposeFlushes()
    {
        var storage = new NativeStorageBackend(null, "memory://");
        var c = new AsyncEventCollector(storage, new EventCollectorConfig { Strategy = FlushStrategy.Manual });
        c.Start();
        for (int i = 0; i < 1000; i++) c.CollectScalar("cs/dispose", i, i);
        c.Dispose();
        Assert.Equal(1000, storage.GetEvents(0, 10000).Count(), "everything delivered by Dispose");
        Assert.Throws<ObjectDisposedException>(() => c.Start(), null);
        storage.Dispose();
    }

    static void FileLogFromCSharpSurvivesReopen()
    {
        var dir = TempDir("file");
        using (var log = new NativeStorageBackend("file", "file://" + dir))
        using (var c = new AsyncEventCollector(log))
        {
            c.Start();
            for (int i = 0; i < 5000; i++) c.CollectScalar("cs/file", i, i * 0.5);
            c.Flush();
            Assert.Throws<IOException>(() => new NativeStorageBackend("file", "file://" + dir), "in use");
        }
        using (var reopened = new NativeStorageBackend("file", "file://" + dir))
        {
            var got = reopened.GetEvents(1000, 1999).ToList();
            Assert.Equal(1000, got.Count, "range read after reopen");
            Assert.Equal(1000L, got[0].Step, "first step");
        }
    }

    static void CompressedLogsReadBackAndBadCodecsAreRefused()
    {
        var sizes = new Dictionary<string, long>();
        foreach (var options in new[] { "compression=none", "compression=lz4", "compression=zstd&level=5" })
        {
            var dir = TempDir("zip");
            using (var log = new NativeStorageBackend("file", "file://" + dir + "?segment_max_bytes=65536&" + options))
            using (var c = new AsyncEventCollector(log))
            {
                c.Start();
                for (int i = 0; i < 3000; i++) { c.CollectScalar("zip/loss", i, 1.0 / (i + 1)); c.CollectScalar("zip/acc", i, i / 3000.0); }
                c.Flush();
            }
            sizes[options] = Directory.GetFiles(dir, "*.vzl").Sum(f => new FileInfo(f).Length);
            using (var reopened = new NativeStorageBackend("file", "file://" + dir))
            {
                Assert.Equal(2000, reopened.GetEvents(1000, 1999).Count(), options + ": range read");
                Assert.Equal(3000L, reopened.Aggregate("{\"tags\": [\"zip/acc\"]}").Single().Count, options + ": aggregate");
            }
            using (var tail = new LogTail(dir))
                Assert.True(tail.Next(10000).Count == 6000 && tail.Damage == 0, options + ": a tail reads each event once");
        }
        Assert.True(sizes["compression=zstd&level=5"] * 4 < sizes["compression=none"], "zstd: " + sizes["compression=zstd&level=5"] + " of " + sizes["compression=none"]);
        Assert.True(sizes["compression=lz4"] < sizes["compression=none"], "lz4 is smaller too");
        Assert.Throws<ArgumentException>(() => new NativeStorageBackend(null, "file:///tmp/x?compression=gzip"), "option compression has invalid value 'gzip'");
    }

    static void StorageBackendBaseBuffers()
    {
        var b = new ListBackend(new StorageConfiguration { ConnectionString = "list://", WriteBufferSize = 3, FlushInterval = TimeSpan.FromHours(1) });
        b.Initialize("list://x");
        Assert.Equal("list://x", b.OpenedWith, "initialized with");
        b.StoreEvent(new ScalarEvent("b/x", 1, 1));
        b.StoreEvent(new ScalarEvent("b/x", 2, 1));
        Assert.Equal(0, b.Count, "buffered below WriteBufferSize");
        Assert.Equal(2L, b.EventCount, "counted");
        b.StoreEvent(new ScalarEvent("b/x", 3, 1));
        Assert.Equal(3, b.Count, "written at WriteBufferSize");
        b.StoreEvent(new ScalarEvent("b/x", 4, 1));
        Assert.Equal(4, b.GetEvents(0, 10).Count(), "reads include the buffer");
        b.FailEvery = 1;
        b.StoreEvent(new ScalarEvent("b/x", 5, 1));
        Assert.Throws<IOException>(() => b.Flush(), "disk on fire");
        b.FailEvery = 0;
        b.Flush();
        Assert.Equal(5, b.Count, "a failed write kept its events");
        b.StoreEvent(new ScalarEvent("b/x", 6, 1));
        b.Dispose();
        Assert.Equal(6, b.Count, "Dispose flushed");
        Assert.Equal(1, b.Shutdowns, "shut down once");

        var timed = new ListBackend(new StorageConfiguration { ConnectionString = "list://", WriteBufferSize = 1000, FlushInterval = TimeSpan.FromMilliseconds(50) });
        timed.Initialize("list://");
        timed.StoreEvent(new ScalarEvent("b/t", 1, 1));
        for (int i = 0; i < 100 && timed.Count == 0; i++) Thread.Sleep(20);
        Assert.Equal(1, timed.Count, "written by the interval timer");
        timed.Dispose();

        var through = new ListBackend(new StorageConfiguration { ConnectionString = "list://", EnableAsyncWrites = false });
        through.Initialize("list://");
        through.StoreEvent(new ScalarEvent("b/w", 1, 1));
        Assert.Equal(1, through.Count, "write-through");
        through.Dispose();
    }

    static void FactoryRegistersCSharpTypesNatively()
    {
        var made = new ConcurrentBag<ListBackend>();
        var f = StorageBackendFactory.Default;
        int before = MLFramework.Visualization.Native.HostBackendBridge.LiveRegistrations;
        f.RegisterBackend("cslist", () => { var b = new ListBackend(); made.Add(b); return b; });
        Assert.True(f.IsRegistered("cslist"), "registered");
        Assert.Throws<ArgumentException>(() => f.RegisterBackend("cslist", () => new ListBackend()), "already registered");
        Assert.Throws<ArgumentException>(() => f.RegisterBackend("memory", () => new ListBackend()), "memory");
        var direct = f.CreateBackend("cslist", "cslist://direct");
        Assert.True(direct is ListBackend && direct.IsInitialized, "C# types are created in C#");
        ((ListBackend)direct).Dispose();

        // Through libviz: a native instance of the type, delivered to by a native collector.
        var viaNative = new NativeStorageBackend(null, "cslist://native");
        using (var c = new AsyncEventCollector(viaNative))
        {
            c.Start();
            for (int i = 0; i < 100; i++) c.CollectScalar("f/x", i, i);
            c.Flush();
            var inst = made.First(b => b.OpenedWith == "cslist://native");
            Assert.Equal(100, inst.Count, "the C# instance received the native collector's events");
            Assert.Equal(100, viaNative.GetEvents(0, 1000).Count(), "reads go through the C# instance");
        }
        viaNative.Dispose();

        // Several native instances of one C# type open at once, each its own object.
        var first = new NativeStorageBackend(null, "cslist://first");
        var second = new NativeStorageBackend(null, "cslist://second");
        first.StoreEvents(Enumerable.Range(0, 3).Select(i => (Event)new ScalarEvent("f/a", i, i)).ToList());
        second.StoreEvents(Enumerable.Range(0, 5).Select(i => (Event)new ScalarEvent("f/b", i, i)).ToList());
        Assert.Equal(3, first.GetEvents(0, 100).Count(), "the first instance kept its own events");
        Assert.Equal(5, second.GetEvents(0, 100).Count(), "the second instance kept its own events");
        var a = made.First(b => b.OpenedWith == "cslist://first");
        var z = made.First(b => b.OpenedWith == "cslist://second");
        Assert.Equal(3, a.Count, "first object");
        Assert.Equal(5, z.Count, "second object");
        first.Dispose();
        second.Dispose();
        Assert.Equal(1, a.Shutdowns, "each native instance shut its C# object down once");
        Assert.Equal(1, z.Shutdowns, "second object shut down once");
        Assert.True(f.UnregisterBackend("cslist"), "unregistered");
        Assert.True(!f.UnregisterBackend("cslist"), "only once");
        Assert.Equal(before, MLFramework.Visualization.Native.HostBackendBridge.LiveRegistrations, "finalizer ran once the type and its instances were gone");
        Assert.Throws<ArgumentException>(() => f.CreateBackend("cslist", "cslist://again"), "unknown backend type");
    }

    static void CSharpBackendSurvivesGarbageCollectionOnNativeThreads()
    {
        var backend = new ListBackend(new StorageConfiguration { ConnectionString = "list://", EnableAsyncWrites = false });
        int before = MLFramework.Visualization.Native.HostBackendBridge.LiveRegistrations;
        var done = false;
        var gc = new Thread(() => { while (!Volatile.Read(ref done)) { GC.Collect(); GC.WaitForPendingFinalizers(); } });
        // A GC pause stalls the worker inside the C# backend, so the producer may
        // block; a generous block timeout keeps a loaded machine from turning that
        // stall into drops, which this test is not about.
        var config = new EventCollectorConfig { BatchSize = 64, FlushInterval = TimeSpan.FromMilliseconds(5), BlockTimeout = TimeSpan.FromMinutes(2) };
        using (var c = new AsyncEventCollector(backend, config))
        {
            gc.Start();
            c.Start();
            for (int i = 0; i < 20000; i++)
            {
                c.Collect(new ScalarEvent("gc/x", i, i));
                if (i % 997 == 0) c.Collect(new TextEvent("gc/t", i, "text " + i));
            }
            c.Flush();
            Volatile.Write(ref done, true);
            gc.Join();
            Assert.Equal(20000 + 21, backend.Count, "every event reached the C# backend");
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.Equal(before, MLFramework.Visualization.Native.HostBackendBridge.LiveRegistrations, "the per-collector registration was finalized");
        Assert.True(backend.IsInitialized, "a backend handed to a collector stays open for its owner");
        backend.Dispose();
    }

    static void BackendErrorsAreRaisedAsEvents()
    {
        var backend = new ListBackend(new StorageConfiguration { ConnectionString = "list://", EnableAsyncWrites = false }) { FailEvery = 2 };
        var seen = new ConcurrentQueue<BackendErrorEventArgs>();
        using (var c = new AsyncEventCollector(backend, new EventCollectorConfig { BatchSize = 10 }))
        {
            c.BackendError += (sender, e) => seen.Enqueue(e);
            c.BackendError += (sender, e) => { throw new InvalidOperationException("a throwing handler is ignored"); };
            c.Start();
            for (int i = 0; i < 100; i++) c.CollectScalar("err/x", i, i);
            c.Flush();
            Assert.True(seen.Count > 0, "failures were raised");
            BackendErrorEventArgs first;
            seen.TryPeek(out first);
            Assert.True(first.Destination.EndsWith("#0") && first.Status == VizStatus.Io && first.WillRetry && first.Events == 10,
                "the report: " + first.Destination + " " + first.Status + " " + first.Events);
            Assert.True(first.Message.IndexOf("disk on fire", StringComparison.Ordinal) >= 0, "the backend's message: " + first.Message);
        }
        backend.Dispose();
        Assert.Equal(0, MLFramework.Visualization.Collection.ErrorRelay.Live, "viz finalized the relay's handle when the collector closed");
    }

    // The audit's crash: a slow backend, MaxQueueLength = 1000 without backpressure,
    // and a Stop whose timeout passes. Stop returns (it threw TimeoutException, which
    // ended the program), reports what it left, and the seed's bound holds: at most
    // MaxQueueLength events are held in the whole collector (the library's
    // max_held_events), where the ~25,000 the audit saw, and then ~3,200 with each
    // stage bounded on its own, could wait. Every event is accounted for.
    static void StopNeverThrowsAndTheQueueBoundHolds()
    {
        const int N = 30000;
        int timedOut = 0;
        for (int run = 0; run < 20; run++)
        {
            var backend = new SlowBackend();
            var reports = new ConcurrentQueue<BackendErrorEventArgs>();
            var config = new EventCollectorConfig
            {
                MaxQueueLength = 1000,
                EnableBackpressure = false,
                ShutdownTimeout = TimeSpan.FromMilliseconds(run % 2 == 0 ? 100 : 5000),
            };
            var c = new AsyncEventCollector(backend, config);
            c.BackendError += (sender, e) => reports.Enqueue(e);
            c.Start();
            long maxWaiting = 0, maxHeld = 0;
            for (int i = 0; i < N; i++)
            {
                c.CollectScalar("slow/x", i, i);
                if (i % 500 == 0)
                {
                    maxWaiting = Math.Max(maxWaiting, c.PendingEventCount);
                    maxHeld = Math.Max(maxHeld, c.Stats.HeldEvents);
                }
            }
            c.Stop(); // must not throw, whatever the backend's speed
            // Let the delivery thread finish what it had, then count.
            CollectorStats s = c.Stats;
            for (int i = 0; i < 300 && (s.DestinationQueued > 0 || s.Queued > 0); i++)
            {
                Thread.Sleep(10);
                s = c.Stats;
            }
            long accounted = s.Written + s.DroppedOldest + s.DroppedNewest + s.DroppedBlockTimeout
                + s.DestinationDropped + s.DestinationQueued + s.Queued;
            Assert.Equal((long)N, accounted, "run " + run + ": written + dropped + buffered = collected");
            Assert.Equal(Interlocked.Read(ref backend.Stored), s.Written, "run " + run + ": the backend stored what viz says");
            Assert.True(maxHeld <= 1000, "run " + run + ": " + maxHeld + " events held at once; MaxQueueLength is 1000");
            Assert.True(maxHeld >= 500, "run " + run + ": at most " + maxHeld + " held: the slow backend never filled the bound");
            // PendingEventCount sums the stages one after another, so an event moving
            // between two of them while it reads may count twice: one batch at most.
            Assert.True(maxWaiting <= 1000 + config.BatchSize, "run " + run + ": " + maxWaiting + " events waited at once; MaxQueueLength is 1000");
            if (reports.Any(r => r.Destination == "collector" && r.Status == VizStatus.Timeout))
            {
                timedOut++;
                var r = reports.First(x => x.Status == VizStatus.Timeout);
                Assert.True(r.Message.IndexOf("not delivered before the timeout", StringComparison.Ordinal) >= 0, "the report says what was left: " + r.Message);
            }
            c.Dispose(); // never throws either
            backend.Dispose();
        }
        Assert.True(timedOut > 0, "a 100 ms stop timed out at least once, and returned");
        // Who wants the exception asks for it.
        var slow = new SlowBackend();
        var strict = new AsyncEventCollector(slow, new EventCollectorConfig { MaxQueueLength = 1000, EnableBackpressure = false, ShutdownTimeout = TimeSpan.FromMilliseconds(1) });
        strict.Start();
        for (int i = 0; i < 5000; i++) strict.CollectScalar("slow/y", i, i);
        Assert.Throws<TimeoutException>(() => strict.StopOrThrow(), "stop");
        strict.Dispose();
        slow.Dispose();
    }

    static void WatchersSeeTheirEventsLiveAndAreReleased()
    {
        var storage = new NativeStorageBackend(null, "memory://");
        var train = new ConcurrentQueue<Event>();
        var observed = new ConcurrentQueue<Event>();
        using (var c = new AsyncEventCollector(storage, new EventCollectorConfig { BatchSize = 10 }))
        {
            c.Start();
            var sub = c.Subscribe(events => { foreach (var e in events) train.Enqueue(e); },
                "{\"tags\": [\"train/*\"], \"kinds\": [\"scalar\"]}");
            var texts = c.Watch("{\"kinds\": [\"text\"]}").Subscribe(new Observer(observed));
            c.Subscribe(events => { throw new InvalidOperationException("a throwing watcher is ignored"); });
            Assert.Equal(3, WatchSubscription.Live, "three native watches hold their callbacks");
            for (int i = 0; i < 50; i++)
            {
                c.CollectScalar("train/loss", i, 0.5);
                c.CollectScalar("eval/acc", i, 0.5);
            }
            c.Collect(new TextEvent("train/note", 3, "hello"));
            c.Flush();
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while ((train.Count < 50 || observed.Count < 1) && DateTime.UtcNow < deadline) Thread.Sleep(1);
            Assert.Equal(50, train.Count, "the watcher saw train/loss only");
            long sum = 0;
            foreach (var e in train) { Assert.True(e.Tag == "train/loss", "tag " + e.Tag); sum += e.Step; }
            Assert.Equal(49L * 50 / 2, sum, "every step once");
            Event note;
            observed.TryPeek(out note);
            Assert.True(note is TextEvent && ((TextEvent)note).Text == "hello", "the observer saw the text");
            Assert.Equal(50L, sub.Delivered, "Delivered");
            Assert.Equal(0L, sub.Dropped, "Dropped");
            Assert.True(sub.IsActive, "active until disposed");
            sub.Dispose();
            sub.Dispose();
            Assert.True(!sub.IsActive, "inactive once disposed");
            Assert.Equal(2, WatchSubscription.Live, "cancelling released the callback");
            c.CollectScalar("train/loss", 99, 0.5);
            c.Flush();
            Assert.Equal(50, train.Count, "a cancelled watcher is not called");
            Assert.Throws<ArgumentException>(() => c.Subscribe(events => { }, "{\"limit\": 3}"), "no order, offset or limit");
            Assert.Equal(2, WatchSubscription.Live, "a refused watch is released at once");
            texts.Dispose();
        }
        Assert.Equal(0, WatchSubscription.Live, "closing the collector released the rest");
        storage.Dispose();
    }

    static void AggregatesBucketsAndLatestValuesFromAnIndexAndAScan()
    {
        string dir = Path.Combine(Path.GetTempPath(), "viz-cs-aggregate-" + Guid.NewGuid().ToString("N"));
        var memory = new NativeStorageBackend(null, "memory://");
        var log = new NativeStorageBackend("file", "file://" + dir);
        using (var c = new AsyncEventCollector(new IStorageBackend[] { memory, log }))
        {
            c.Start();
            for (int step = 0; step < 1000; step++)
            {
                c.CollectScalar("train/loss", step, step == 500 ? double.NaN : step);
                c.CollectScalar("eval/acc", step, 2.0 * step);
            }
            c.Flush();
            foreach (int backend in new[] { 0, 1 })
            {
                var rows = c.Aggregate(null, backend);
                Assert.Equal(2, rows.Count, "one row a tag");
                var acc = rows[0];
                Assert.True(acc.Tag == "eval/acc" && acc.Count == 1000 && acc.Min == 0 && acc.Max == 1998 && acc.Mean == 999
                    && acc.FirstStep == 0 && acc.LastStep == 999 && acc.Last == 1998, "eval/acc's statistics, backend " + backend);
                Assert.True(rows[1].Count == 1000 && rows[1].Max == 999, "the NaN counts but is not a value");
                var buckets = c.Downsample("{\"tags\": [\"train/*\"]}", 0, 999, 10, backend);
                Assert.Equal(10, buckets.Count, "ten buckets");
                Assert.True(buckets[3].FirstStep == 300 && buckets[3].LastStep == 399 && buckets[3].Count == 100
                    && buckets[3].Min == 300 && buckets[3].Max == 399 && buckets[3].Mean == 349.5, "bucket 3");
                var latest = c.Latest(null, backend);
                Assert.True(latest.Count == 2 && latest[1].Tag == "train/loss" && latest[1].Step == 999, "the latest of each tag");
                // LINQ over the query's IEnumerable: the steps where the loss fell below 3.
                var low = c.Query("{\"tags\": [\"train/loss\"]}", backend).OfType<ScalarEvent>().Where(e => e.Value < 3).Select(e => e.Step).ToList();
                Assert.True(low.SequenceEqual(new long[] { 0, 1, 2 }), "LINQ over a query");
            }
            Assert.Throws<ArgumentException>(() => c.Aggregate("{\"limit\": 3}"), "no order, offset or limit");
            Assert.Throws<ArgumentException>(() => c.Downsample(null, 0, 999, 0), "buckets must be at least 1");
            Assert.Throws<ArgumentException>(() => c.Latest("{\"order\": \"step_desc\"}"), "latest-value query");
        }
        Assert.Equal(2, memory.Aggregate().Count, "a storage handle answers too");
        Assert.Equal(10, memory.Downsample("{\"tags\": [\"eval/acc\"]}", 0, 999, 10).Count, "and downsamples");
        Assert.Equal(999L, memory.Latest("{\"tags\": [\"eval/acc\"]}")[0].Step, "and gives the latest");
        memory.Dispose();
        log.Dispose();
        Directory.Delete(dir, true);
    }

    static void ALogTailFollowsACollectorsLog()
    {
        string dir = Path.Combine(Path.GetTempPath(), "viz-cs-tail-" + Guid.NewGuid().ToString("N"));
        var log = new NativeStorageBackend("file", "file://" + dir + "?segment_max_bytes=4096");
        using (var c = new AsyncEventCollector(log, new EventCollectorConfig { BatchSize = 50 }))
        using (var tail = new LogTail(dir))
        using (var newest = new LogTail(dir, null))
        {
            c.Start();
            for (int round = 0; round < 3; round++)
            {
                for (int i = 0; i < 500; i++) c.CollectScalar("tail/x", round * 500 + i, i);
                c.Flush();
                var steps = new List<long>();
                for (var page = tail.Next(64); page.Count > 0; page = tail.Next(64)) steps.AddRange(page.Select(e => e.Step));
                Assert.True(steps.SequenceEqual(Enumerable.Range(round * 500, 500).Select(x => (long)x)), "every event once, in order");
                Assert.Equal(500, newest.Next(10000).Count, "the tail from the end sees the new ones");
            }
            Assert.True(tail.Offset == 1500 && tail.Damage == 0, "offset " + tail.Offset);
            using (var resumed = new LogTail(dir, 1400))
            using (var cancel = new CancellationTokenSource())
            {
                var got = new List<long>();
                foreach (var e in resumed.Follow(cancel.Token, 10))
                {
                    got.Add(e.Step);
                    if (resumed.Offset >= 1500 && got.Count == 100) cancel.Cancel();
                }
                Assert.True(got.SequenceEqual(Enumerable.Range(1400, 100).Select(x => (long)x)), "resumed at an offset");
            }
            Assert.Throws<ArgumentException>(() => tail.Next(0), "max is 0");
        }
        Assert.Throws<IOException>(() => new LogTail(Path.Combine(dir, "missing")), "is not a viz event log directory");
        log.Dispose();
        Directory.Delete(dir, true);
    }

    static void RunMetadataIsADictionaryKeptByEveryBackendThatCan()
    {
        string dir = Path.Combine(Path.GetTempPath(), "viz-cs-meta-" + Guid.NewGuid().ToString("N"));
        var memory = new NativeStorageBackend(null, "memory://");
        var log = new NativeStorageBackend("file", "file://" + dir);
        var jsonl = new NativeStorageBackend("jsonl", "jsonl://" + dir + "-events.jsonl");
        using (var c = new AsyncEventCollector(new IStorageBackend[] { jsonl, memory, log }))
        {
            c.Start();
            var m = c.Metadata;
            m["lr"] = 0.01;
            m.SetMany(new Dictionary<string, object> {
                { "model", "resnet \"50\"" }, { "layers", new[] { 64, 128 } }, { "pretrained", true }, { "tmp", 1 },
                { "optimizer", new Dictionary<string, object> { { "name", "adam" } } } });
            Assert.True(m.Remove("tmp") && !m.Remove("tmp"), "Remove says whether the key was there");
            Assert.Equal(5, m.Count, "five keys");
            Assert.Equal(0.01, (double)m["lr"], "a number");
            Assert.Equal("resnet \"50\"", (string)m["model"], "a string with quotes");
            Assert.True((bool)m["pretrained"], "a bool");
            Assert.Equal(128.0, (double)((List<object>)m["layers"])[1], "a list");
            Assert.Equal("adam", (string)((Dictionary<string, object>)m["optimizer"])["name"], "an object");
            object missing;
            Assert.True(!m.TryGetValue("nope", out missing), "absent");
            Assert.Throws<KeyNotFoundException>(() => { var x = m["nope"]; }, "no metadata key 'nope'");
            Assert.Throws<ArgumentException>(() => m[""] = 1, "keys are 1 to 250 bytes");
            Assert.Throws<ArgumentException>(() => m["x"] = double.NaN, "finite");
        }
        Assert.Equal("resnet \"50\"", (string)log.Metadata["model"], "durable in the file:// log");
        Assert.Equal(5, memory.Metadata.Count, "and in memory://");
        Assert.Throws<NotSupportedException>(() => { var n = jsonl.Metadata.Count; }, "keeps no run metadata");
        memory.Dispose(); log.Dispose(); jsonl.Dispose();
        Directory.Delete(dir, true);
        File.Delete(dir + "-events.jsonl");
    }

    static void RunsAreListedFoundReadAndDeleted()
    {
        string project = Path.Combine(Path.GetTempPath(), "viz-cs-runs-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(project);
        for (int rank = 0; rank < 2; rank++)
        {
            var log = new NativeStorageBackend("file", "file://" + project + "?run=baseline&rank=" + rank);
            using (var c = new AsyncEventCollector(log))
            {
                c.Start();
                for (int step = 0; step < 50; step++) c.CollectScalar("train/loss", step, step);
            }
            log.Dispose();
        }
        var tunedLog = new NativeStorageBackend("file", "file://" + project + "?run=tuned");
        tunedLog.Metadata["lr"] = 0.1;
        using (var repo = new RunRepository(project))
        {
            Assert.True(repo.Names.SequenceEqual(new[] { "baseline", "tuned" }) && repo.Count == 2 && repo.Exists("tuned"), "names");
            var runs = repo.List();
            var b = runs[0];
            Assert.True(b.Name == "baseline" && b.Ranks.SequenceEqual(new[] { 0, 1 }) && b.Events == 100 && b.Tags["train/loss"] == 100
                && b.Steps[0] == 0 && b.Steps[1] == 49 && b.Bytes > 0, "baseline's info");
            var found = repo.List("{\"metadata\": {\"lr\": 0.1}}");
            Assert.True(found.Count == 1 && found[0].Name == "tuned" && (double)found[0].Metadata["lr"] == 0.1, "found by metadata");
            var top = repo.Query("baseline", "{\"order\": \"step_desc\", \"limit\": 3}").Select(e => e.Step).ToList();
            Assert.True(top.SequenceEqual(new long[] { 49, 49, 48 }), "read as one run");
            var byRun = repo.QueryRuns(null, "{\"steps\": [0, 0]}");
            Assert.True(byRun["baseline"].Count == 2 && byRun["tuned"].Count == 0, "a query over several runs");
            // A query's results are read once: enumerating again meets the freed cursor
            // as a clear error, never as undefined behaviour.
            var once = repo.Query("baseline", "{}");
            Assert.Equal(100, once.Count(), "first enumeration");
            Assert.Throws<ObjectDisposedException>(() => once.Count(), "");
            var cache = ReadCache.Stats;
            Assert.True(cache.Hits > 0 && cache.Entries > 0 && cache.Capacity == 256L << 20, "the read cache served it");
            Assert.Throws<ArgumentException>(() => ReadCache.Configure(1 << 20, TimeSpan.Zero), "ttl_ms is 0 ms");
            Assert.Throws<IOException>(() => repo.Delete("tuned"), "is being written");
            tunedLog.Dispose();
            repo.Delete("tuned");
            Assert.True(repo.Names.SequenceEqual(new[] { "baseline" }), "deleted");
            Assert.Throws<ArgumentException>(() => repo.Query("nope", "{}").ToList(), "no run 'nope'");
        }
        Assert.Throws<IOException>(() => new RunRepository(Path.Combine(project, "missing")), "is not a project directory");
        Directory.Delete(project, true);
    }

    static void BackendsAreRoutedByKindAndTagPrefix()
    {
        var texts = new NativeStorageBackend(null, "memory://");
        var train = new NativeStorageBackend(null, "memory://");
        var everything = new NativeStorageBackend(null, "memory://");
        using (var c = new AsyncEventCollector(new[] {
            new RoutedBackend(texts, kinds: new[] { EventKind.Text }),
            new RoutedBackend(train, tagPrefixes: new[] { "train/" }),
            new RoutedBackend(everything) }))
        {
            c.Start();
            for (int i = 0; i < 10; i++) { c.CollectScalar("train/loss", i, 1); c.CollectScalar("eval/acc", i, 1); }
            c.Collect(new TextEvent("eval/note", 3, "hi"));
            c.Flush();
            Assert.Equal(1L, texts.EventCount, "only the text");
            Assert.Equal(10L, train.EventCount, "only train/");
            Assert.Equal(21L, everything.EventCount, "everything");
        }
        Assert.Throws<ArgumentException>(() => new RoutedBackend(texts, kinds: new EventKind[0]), "would receive nothing");
        texts.Dispose(); train.Dispose(); everything.Dispose();
    }

    static void SqliteIsABackendLikeAnyOther()
    {
        string dir = Path.Combine(Path.GetTempPath(), "viz-cs-sqlite-" + Guid.NewGuid().ToString("N"));
        var db = new NativeStorageBackend("sqlite", "sqlite://" + dir + "/p.db?run=cs");
        using (var c = new AsyncEventCollector(db))
        {
            c.Start();
            c.Metadata["lr"] = 0.1;
            for (int i = 0; i < 100; i++) c.CollectScalar("train/loss", i, i);
            c.Flush();
            Assert.True(c.Query("{\"order\": \"step_desc\", \"limit\": 2}").Select(e => e.Step).SequenceEqual(new long[] { 99, 98 }), "query");
            Assert.Equal(49.5, c.Aggregate()[0].Mean, "aggregate by SQL");
            Assert.Equal(10, c.Downsample(null, 0, 99, 10).Count, "downsample by SQL");
            Assert.Equal(0.1, (double)c.Metadata["lr"], "metadata");
        }
        using (var tx = db.BeginTransaction())
        {
            db.StoreEvent(new ScalarEvent("tx/x", 1000, 1.0));
            db.Metadata["phase"] = "warmup";
            tx.Commit();
        }
        using (db.BeginTransaction())
        {
            db.StoreEvent(new ScalarEvent("tx/x", 2000, 1.0));
            db.Metadata["phase"] = "train";
            // Disposed without Commit: rolled back.
        }
        Assert.True(db.GetEvents(1000, 3000).Count() == 1 && (string)db.Metadata["phase"] == "warmup", "committed, then rolled back");
        db.Dispose();
        using (var repo = new RunRepository("sqlite://" + dir + "/p.db"))
        {
            var run = repo.List()[0];
            Assert.True(run.Name == "cs" && run.Events == 101 && run.Ranks.SequenceEqual(new[] { 0 }), "the file's runs, by SQL");
            Assert.Equal(101, repo.Query("cs", "{}").Count(), "read back through the repository");
        }
        File.WriteAllBytes(Path.Combine(dir, "bad.db"), new byte[4096]);
        Assert.Throws<InvalidDataException>(() => new NativeStorageBackend("sqlite", "sqlite://" + dir + "/bad.db"), "not a SQLite database");
        Directory.Delete(dir, true);
    }

    // An s3:// backend against scripts/test.sh's SeaweedFS: Sync returns once the
    // store holds every segment (staging's uploaded.s3 lists what it acknowledged).
    static void SyncPutsEverySegmentOfAnS3RunInTheStore()
    {
        using (var local = new AsyncEventCollector(new NativeStorageBackend(null, "memory://")))
        {
            local.Start();
            local.CollectScalar("x", 0, 1.0);
            local.Sync(TimeSpan.FromSeconds(10)); // without s3://, a flush
            Assert.Throws<NotSupportedException>(() => local.ReplicationStats(0), "does not replicate");
        }
        string endpoint = Environment.GetEnvironmentVariable("VIZ_S3_ENDPOINT");
        if (endpoint == null)
        {
            if (Environment.GetEnvironmentVariable("CI") != null) throw new Exception("CI must test s3:// from C#: VIZ_S3_ENDPOINT is unset");
            Console.WriteLine("!!! SKIPPED SyncPutsEverySegmentOfAnS3RunInTheStore: VIZ_S3_ENDPOINT names no S3 server");
            return;
        }
        string staging = Path.Combine(Path.GetTempPath(), "viz-cs-s3-" + Guid.NewGuid().ToString("N"));
        var s3 = new NativeStorageBackend("s3", "s3://viz-cs/proj?run=cs&rank=0&endpoint=" + endpoint + "&staging=" + staging + "&segment_max_bytes=4096");
        using (var c = new AsyncEventCollector(s3))
        {
            c.Start();
            for (int step = 0; step < 3000; step++) c.CollectScalar("train/loss", step, 1.0 / (step + 1));
            c.Sync(TimeSpan.FromSeconds(60));
            var uploaded = File.ReadAllLines(Path.Combine(staging, "cs", "rank-0", "uploaded.s3"));
            Assert.True(uploaded.Length >= 2, uploaded.Length + " segments acknowledged by the store");
            var r = c.ReplicationStats(0);
            Assert.Equal((long)uploaded.Length, r.SegmentsUploaded, "segments uploaded");
            Assert.True(r.SegmentsPending == 0 && r.Failures == 0 && !r.Failing, "nothing pending, no failure");
        }
        s3.Dispose();
        Directory.Delete(staging, true);
    }

    static void MlflowIsABackendLikeAnyOther()
    {
        string server = Environment.GetEnvironmentVariable("VIZ_MLFLOW_URI");
        if (server == null)
        {
            if (Environment.GetEnvironmentVariable("CI") != null) throw new Exception("CI must test mlflow+http:// from C#: VIZ_MLFLOW_URI is unset");
            Console.WriteLine("!!! SKIPPED MlflowIsABackendLikeAnyOther: VIZ_MLFLOW_URI names no MLflow server");
            return;
        }
        string dir = Path.Combine(Path.GetTempPath(), "viz-cs-mlflow-" + Guid.NewGuid().ToString("N"));
        var remote = new NativeStorageBackend("mlflow", "mlflow+" + server + "?experiment=viz-cs&run=cs-" + Guid.NewGuid().ToString("N") + "&spool=" + dir);
        using (var c = new AsyncEventCollector(remote))
        {
            c.Start();
            c.Metadata["optimizer"] = "adam";
            for (int i = 0; i < 2500; i++) c.CollectScalar("train/loss", i, 1.0 / (i + 1));
            c.WaitAcknowledged(TimeSpan.FromMinutes(2));
            c.SetRunStatus(RunStatus.Failed);
            Assert.Throws<ArgumentException>(() => c.SetRunStatus((RunStatus)7), "status is 7");
            var r = c.RemoteStats(0);
            Assert.True(r.Delivered == 2501 && r.Depth == 0 && r.Rejected == 0 && r.Sends >= 3, "acknowledged by the server: " + r.Delivered);
        }
        remote.Dispose();
        var absent = new NativeStorageBackend("mlflow", "mlflow+http://127.0.0.1:9?run=absent&drain_timeout=100ms&spool=" + dir + "-absent");
        using (var c = new AsyncEventCollector(absent))
        {
            c.Start();
            for (int i = 0; i < 10; i++) c.CollectScalar("x", i, i);
            Assert.Throws<TimeoutException>(() => c.WaitAcknowledged(TimeSpan.FromMilliseconds(300)), "not acknowledged");
            Assert.Equal(10L, c.RemoteStats(0).Depth, "spooled");
        }
        absent.Dispose();
        Directory.Delete(dir, true);
        Directory.Delete(dir + "-absent", true);
    }

    sealed class Observer : IObserver<Event>
    {
        private readonly ConcurrentQueue<Event> into;
        internal Observer(ConcurrentQueue<Event> into) { this.into = into; }
        public void OnNext(Event e) { into.Enqueue(e); }
        public void OnError(Exception e) { }
        public void OnCompleted() { }
    }

    static void ExceptionsInCSharpBackendsAreCountedNotFatal()
    {
        var backend = new ListBackend(new StorageConfiguration { ConnectionString = "list://", EnableAsyncWrites = false }) { FailEvery = 2 };
        using (var c = new AsyncEventCollector(backend, new EventCollectorConfig { BatchSize = 10 }))
        {
            c.Start();
            for (int i = 0; i < 100; i++) c.CollectScalar("ex/x", i, i);
            c.Flush();
            Assert.True(c.BackendExceptions > 0, "exceptions counted in C#");
            var stats = c.Stats;
            Assert.True(stats.FailedBatches > 0, "and natively as failed batches");
            Assert.Equal(1, stats.Destinations.Count, "one destination");
            var d = stats.Destinations[0];
            Assert.True(d.Name.EndsWith("#0"), "destination name " + d.Name);
            Assert.Equal(100L, d.Written, "the destination's own written count");
            Assert.Equal(0L, d.Dropped, "nothing dropped");
            Assert.Equal(stats.FailedBatches, d.FailedBatches, "failures are the destination's");
            Assert.True(d.Retries > 0 && d.QueuedEvents == 0, "retried until everything was stored");
            Assert.True(c.LastBackendException is IOException, "the exception is kept");
            Assert.Equal(100, backend.Count, "retries delivered every event exactly once");
        }
        var sub = new CountingSubscriber { Throw = true };
        using (var c = new AsyncEventCollector(new IEventSubscriber[] { sub }))
        {
            c.Start();
            c.CollectScalar("ex/s", 1, 1);
            try { c.Flush(); } catch (Exception) { /* the failed batch may be reported here */ }
            Assert.True(sub.Seen >= 1 && c.BackendExceptions >= 1, "a throwing subscriber is contained");
        }
    }

    static void SubscribersReceiveEveryBatch()
    {
        var a = new CountingSubscriber();
        var b = new CountingSubscriber();
        using (var c = new AsyncEventCollector(new IEventSubscriber[] { a, b }))
        {
            c.Start();
            for (int i = 0; i < 1000; i++) c.CollectScalar("sub/x", i, i);
            c.Flush();
            Assert.Equal(1000L, Interlocked.Read(ref a.Seen), "subscriber a");
            Assert.Equal(1000L, Interlocked.Read(ref b.Seen), "subscriber b");
            Assert.Throws<NotSupportedException>(() => c.GetEvents(0, 10), "write-only");
        }
    }

    static void FourThreadsCollectAtOnce()
    {
        var storage = new NativeStorageBackend(null, "memory://?capacity=1000000");
        using (var c = new AsyncEventCollector(storage))
        {
            c.Start();
            var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
            {
                for (int i = 0; i < 25000; i++)
                {
                    if (i % 2 == 0) c.CollectScalar("mt/" + t, i, i);
                    else c.Collect(new ScalarEvent("mt/" + t, i, i));
                }
            })).ToList();
            threads.ForEach(th => th.Start());
            threads.ForEach(th => th.Join());
            c.Flush();
            var got = storage.GetEvents(0, 100000).ToList();
            Assert.Equal(100000, got.Count, "all events");
            for (int t = 0; t < 4; t++)
            {
                var steps = got.Where(e => e.Tag == "mt/" + t).Select(e => e.Step).ToList();
                Assert.True(steps.SequenceEqual(Enumerable.Range(0, 25000).Select(i => (long)i)), "thread " + t + " in order, none lost");
            }
        }
        storage.Dispose();
    }

    static void BadArgumentsGetTheRightExceptions()
    {
        Assert.Throws<ArgumentNullException>(() => new AsyncEventCollector((IStorageBackend)null), "storage");
        Assert.Throws<ArgumentException>(() => StorageBackendFactory.Default.CreateBackend("tensorbored", "tensorbored:///tmp/x"), "known types");
        Assert.Throws<ArgumentException>(() => new NativeStorageBackend(null, "file:///tmp/x?fsync=sometimes"), "fsync");
        Assert.Throws<ArgumentException>(() => new EventCollectorConfig { BatchSize = 0 }.Validate(), "BatchSize");
        Assert.Throws<ArgumentException>(() => new StorageConfiguration { ConnectionString = "nocolon" }.Validate(), "no scheme");
        var storage = new NativeStorageBackend(null, "memory://");
        using (var c = new AsyncEventCollector(storage))
        {
            c.Start();
            Assert.Throws<ArgumentNullException>(() => c.Collect<Event>(null), "eventData");
            Assert.Throws<NotSupportedException>(() => c.SetRunStatus(RunStatus.Failed), "keeps a run status");
            var e = Assert.Throws<ArgumentException>(() => c.Collect(new ScalarEvent("", 1, 1)), "tag is empty");
            Assert.Equal(VizStatus.InvalidArgument, VizErrors.StatusOf(e).Value, "status carried");
            Assert.Throws<ArgumentException>(() => c.Collect(new HistogramEvent("h", 1, new[] { 2.0, 1.0 }, new[] { 1.0, 1.0 })), "increase strictly");
            Assert.Throws<ArgumentException>(() => c.Collect(new TensorEvent("t", 1, DType.F32, new long[] { 4 }, new byte[3])), "needs 16 bytes");
            Assert.Throws<ArgumentException>(() => c.Collect(new ImageEvent("i", 1, new byte[] { 1, 2, 3 }, 1, 1, 4)), "PNG");
            Assert.Throws<ArgumentException>(() => c.Collect(new ScalarEvent(new string('x', 2000), 1, 1)), "limit is 1024");
        }
        storage.Dispose();
        using (var tb = new NativeStorageBackend(null, "tensorboard://" + TempDir("tb")))
        {
            Assert.Throws<NotSupportedException>(() => tb.GetEvents(0, 1), "get_events");
        }
    }

    /// <summary>include/viz.h, found by walking up from where the tests run.</summary>
    static string Header()
    {
        for (var d = new DirectoryInfo(AppDomain.CurrentDomain.BaseDirectory); d != null; d = d.Parent)
        {
            var h = Path.Combine(d.FullName, "include", "viz.h");
            if (File.Exists(h)) return h;
        }
        throw new FileNotFoundException("include/viz.h not found above " + AppDomain.CurrentDomain.BaseDirectory);
    }

    /// <summary>PascalCase to the header's SCREAMING_SNAKE_CASE (NullArgument: NULL_ARGUMENT).</summary>
    static string Snake(string name)
    {
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i]) && char.IsLower(name[i - 1])) sb.Append('_');
            sb.Append(char.ToUpperInvariant(name[i]));
        }
        return sb.ToString();
    }

    static void QueriesSelectOrderAndPageThroughACursor()
    {
        var memory = (NativeStorageBackend)StorageBackendFactory.Default.CreateBackend("memory", "memory://");
        using (var c = new AsyncEventCollector(memory))
        {
            c.Start();
            for (int step = 0; step < 100; step++)
            {
                c.CollectScalar("train/loss", step, 1.0 / (step + 1));
                c.CollectScalar("eval/acc", step, step / 100.0);
            }
            c.Flush();
            var got = c.Query("{\"tags\": [\"train/*\"], \"where\": {\"lt\": 0.02}, \"order\": \"step_desc\", \"limit\": 5}", 0, 2).ToList();
            Assert.True(got.Select(e => e.Step).SequenceEqual(new long[] { 99, 98, 97, 96, 95 }), "ordered, limited, read two at a time");
            Assert.True(got.All(e => e.Tag == "train/loss" && ((ScalarEvent)e).Value < 0.02), "selected by tag and value");
            Assert.Equal(100, c.Query("{\"tags\": [{\"regex\": \"^eval/\"}]}").Count(), "regex tags, LINQ over the cursor");
            Assert.Throws<ArgumentException>(() => c.Query("{\"limit\": -1}"), "query limit is -1");
            Assert.Throws<ArgumentException>(() => c.Query("{\"where\": {\"less\": 1}}"), "unknown condition 'less'");
        }
        Assert.Equal(2, memory.Query("{\"tags\": [\"eval/acc\"], \"where\": {\"in\": [0.5, 0.25]}}").Count(), "queries on a storage handle");
        memory.Dispose();
    }

    static void EnumsAndAbiVersionMatchTheHeader()
    {
        var text = File.ReadAllText(Header());
        var values = new Dictionary<string, long>();
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(text, @"^\s+(VIZ_[A-Z0-9_]+) = (\d+),?$", System.Text.RegularExpressions.RegexOptions.Multiline))
            values[m.Groups[1].Value] = long.Parse(m.Groups[2].Value);
        var asm = typeof(AsyncEventCollector).Assembly;
        var enums = new[]
        {
            new KeyValuePair<Type, string>(typeof(VizStatus), "VIZ_STATUS_"),
            new KeyValuePair<Type, string>(typeof(EventPriority), "VIZ_PRIORITY_"),
            new KeyValuePair<Type, string>(typeof(DType), "VIZ_DTYPE_"),
            new KeyValuePair<Type, string>(typeof(FlushStrategy), "VIZ_FLUSH_STRATEGY_"),
            new KeyValuePair<Type, string>(typeof(EventKind), "VIZ_EVENT_KIND_"),
            new KeyValuePair<Type, string>(asm.GetType("MLFramework.Visualization.Native.VizOverflowPolicy", true), "VIZ_OVERFLOW_POLICY_"),
            new KeyValuePair<Type, string>(asm.GetType("MLFramework.Visualization.Native.VizWallClock", true), "VIZ_WALL_CLOCK_"),
            new KeyValuePair<Type, string>(typeof(RunStatus), "VIZ_RUN_STATUS_"),
        };
        foreach (var e in enums)
        {
            var inHeader = values.Where(kv => kv.Key.StartsWith(e.Value)).ToDictionary(kv => kv.Key, kv => kv.Value);
            Assert.True(inHeader.Count > 0, "viz.h has " + e.Value + "*");
            var names = Enum.GetNames(e.Key);
            Assert.Equal(inHeader.Count, names.Length, e.Key.Name + ": as many values as viz.h");
            foreach (var name in names)
            {
                long value = Convert.ToInt64(Enum.Parse(e.Key, name));
                long want;
                Assert.True(inHeader.TryGetValue(e.Value + Snake(name), out want), e.Key.Name + "." + name + " is in viz.h as " + e.Value + Snake(name));
                Assert.Equal(want, value, e.Key.Name + "." + name);
            }
        }
        var abi = System.Text.RegularExpressions.Regex.Match(text, @"#define VIZ_ABI_VERSION (\d+)");
        var native = asm.GetType("MLFramework.Visualization.Native.NativeMethods", true);
        var declared = (uint)native.GetField("AbiVersion", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static).GetValue(null);
        Assert.Equal(uint.Parse(abi.Groups[1].Value), declared, "the binding's ABI version is viz.h's");
        Assert.Equal(TimeSpan.FromMilliseconds(LibraryDefaults.ShutdownTimeoutMs), new EventCollectorConfig().ShutdownTimeout, "ShutdownTimeout's default is the library's");
    }

    static int Main()
    {
        var tests = new List<KeyValuePair<string, Action>>
        {
            new KeyValuePair<string, Action>("EnumsAndAbiVersionMatchTheHeader", EnumsAndAbiVersionMatchTheHeader),
            new KeyValuePair<string, Action>("QueriesSelectOrderAndPageThroughACursor", QueriesSelectOrderAndPageThroughACursor),
            new KeyValuePair<string, Action>("NativeStorageBackendIsTheSeedInterface", NativeStorageBackendIsTheSeedInterface),
            new KeyValuePair<string, Action>("CollectorDeliversEveryKindAndReadsBack", CollectorDeliversEveryKindAndReadsBack),
            new KeyValuePair<string, Action>("DisposeFlushes", DisposeFlushes),
            new KeyValuePair<string, Action>("FileLogFromCSharpSurvivesReopen", FileLogFromCSharpSurvivesReopen),
            new KeyValuePair<string, Action>("StorageBackendBaseBuffers", StorageBackendBaseBuffers),
            new KeyValuePair<string, Action>("FactoryRegistersCSharpTypesNatively", FactoryRegistersCSharpTypesNatively),
            new KeyValuePair<string, Action>("CSharpBackendSurvivesGarbageCollectionOnNativeThreads", CSharpBackendSurvivesGarbageCollectionOnNativeThreads),
            new KeyValuePair<string, Action>("CompressedLogsReadBackAndBadCodecsAreRefused", CompressedLogsReadBackAndBadCodecsAreRefused),
            new KeyValuePair<string, Action>("ExceptionsInCSharpBackendsAreCountedNotFatal", ExceptionsInCSharpBackendsAreCountedNotFatal),
            new KeyValuePair<string, Action>("BackendErrorsAreRaisedAsEvents", BackendErrorsAreRaisedAsEvents),
            new KeyValuePair<string, Action>("StopNeverThrowsAndTheQueueBoundHolds", StopNeverThrowsAndTheQueueBoundHolds),
            new KeyValuePair<string, Action>("WatchersSeeTheirEventsLiveAndAreReleased", WatchersSeeTheirEventsLiveAndAreReleased),
            new KeyValuePair<string, Action>("AggregatesBucketsAndLatestValuesFromAnIndexAndAScan", AggregatesBucketsAndLatestValuesFromAnIndexAndAScan),
            new KeyValuePair<string, Action>("ALogTailFollowsACollectorsLog", ALogTailFollowsACollectorsLog),
            new KeyValuePair<string, Action>("RunMetadataIsADictionaryKeptByEveryBackendThatCan", RunMetadataIsADictionaryKeptByEveryBackendThatCan),
            new KeyValuePair<string, Action>("RunsAreListedFoundReadAndDeleted", RunsAreListedFoundReadAndDeleted),
            new KeyValuePair<string, Action>("BackendsAreRoutedByKindAndTagPrefix", BackendsAreRoutedByKindAndTagPrefix),
            new KeyValuePair<string, Action>("SqliteIsABackendLikeAnyOther", SqliteIsABackendLikeAnyOther),
            new KeyValuePair<string, Action>("MlflowIsABackendLikeAnyOther", MlflowIsABackendLikeAnyOther),
            new KeyValuePair<string, Action>("SyncPutsEverySegmentOfAnS3RunInTheStore", SyncPutsEverySegmentOfAnS3RunInTheStore),
            new KeyValuePair<string, Action>("SubscribersReceiveEveryBatch", SubscribersReceiveEveryBatch),
            new KeyValuePair<string, Action>("FourThreadsCollectAtOnce", FourThreadsCollectAtOnce),
            new KeyValuePair<string, Action>("BadArgumentsGetTheRightExceptions", BadArgumentsGetTheRightExceptions),
        };
        int passed = 0, failed = 0;
        foreach (var t in tests)
        {
            try
            {
                t.Value();
                passed++;
                Console.WriteLine("ok   " + t.Key);
            }
            catch (Exception e)
            {
                failed++;
                Console.WriteLine("FAIL " + t.Key + ": " + e);
            }
        }
        Console.WriteLine(passed + " passed, " + failed + " failed");
        return failed == 0 ? 0 : 1;
    }
}
