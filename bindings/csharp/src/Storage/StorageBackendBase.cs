using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace MLFramework.Visualization.Storage
{
    /// <summary>
    /// Base for backends written in C# (seed 000): a thread-safe write buffer written out
    /// when it reaches WriteBufferSize, every FlushInterval, on Flush, on Shutdown and on
    /// Dispose. Subclasses implement WriteEvents (and ReadEvents to be readable).
    /// A failed write keeps its events buffered, in order, for the next attempt.
    /// </summary>
    public abstract class StorageBackendBase : IStorageBackend, IDisposable
    {
        private readonly object gate = new object();
        private List<Event> buffer = new List<Event>();
        private Timer timer;
        private long count;
        private volatile bool initialized;

        /// <summary>Buffering settings.</summary>
        public StorageConfiguration Configuration { get; private set; }

        /// <summary>The last error of a timed flush (which has no caller to throw to).</summary>
        public Exception LastFlushError { get; private set; }

        /// <summary>A backend with the given (or default) buffering settings.</summary>
        protected StorageBackendBase(StorageConfiguration configuration = null)
        {
            Configuration = configuration ?? new StorageConfiguration { ConnectionString = "csharp://" };
            if (Configuration.WriteBufferSize <= 0)
                throw new ArgumentException("StorageConfiguration.WriteBufferSize must be positive");
        }

        /// <summary>Opens the backend: the subclass's own setup.</summary>
        protected virtual void OnInitialize(string connectionString) { }
        /// <summary>Writes events out. Called with the buffer's contents, in order, one call at a time.</summary>
        protected abstract void WriteEvents(IReadOnlyList<Event> events);
        /// <summary>Reads events back; write-only backends keep this default.</summary>
        protected virtual IEnumerable<Event> ReadEvents(long startStep, long endStep)
        {
            throw new NotSupportedException(GetType().Name + " is write-only: GetEvents is not supported");
        }
        /// <summary>Makes written events durable.</summary>
        protected virtual void OnFlush() { }
        /// <summary>Removes stored events.</summary>
        protected virtual void OnClear() { }
        /// <summary>Closes the backend.</summary>
        protected virtual void OnShutdown() { }

        /// <inheritdoc/>
        public bool IsInitialized { get { return initialized; } }

        /// <inheritdoc/>
        public long EventCount { get { return Interlocked.Read(ref count); } }

        /// <inheritdoc/>
        public void Initialize(string connectionString)
        {
            if (connectionString == null) throw new ArgumentNullException("connectionString");
            lock (gate)
            {
                if (initialized) throw new InvalidOperationException(GetType().Name + " is already initialized");
                OnInitialize(connectionString);
                initialized = true;
                if (Configuration.EnableAsyncWrites)
                    timer = new Timer(_ => TimedFlush(), null, Configuration.FlushInterval, Configuration.FlushInterval);
            }
        }

        private void TimedFlush()
        {
            try { WriteBuffer(); LastFlushError = null; }
            catch (Exception e) { LastFlushError = e; }
        }

        private void EnsureInitialized()
        {
            if (!initialized) throw new InvalidOperationException(GetType().Name + " is not initialized; call Initialize first");
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
            EnsureInitialized();
            var batch = new List<Event>(events);
            for (int i = 0; i < batch.Count; i++)
                if (batch[i] == null) throw new ArgumentNullException("events", "events[" + i + "] is null");
            lock (gate)
            {
                buffer.AddRange(batch);
                if (!Configuration.EnableAsyncWrites || buffer.Count >= Configuration.WriteBufferSize)
                {
                    try { WriteBufferLocked(); }
                    catch
                    {
                        // A store that throws stored nothing: callers (such as a collector
                        // retrying the batch) may then send it again without duplicates.
                        buffer.RemoveRange(buffer.Count - batch.Count, batch.Count);
                        throw;
                    }
                }
                Interlocked.Add(ref count, batch.Count);
            }
        }

        private void WriteBuffer()
        {
            lock (gate) WriteBufferLocked();
        }

        /// <summary>Writes the buffer out; on failure its events stay buffered, in order.</summary>
        private void WriteBufferLocked()
        {
            if (buffer.Count == 0) return;
            var pending = buffer;
            buffer = new List<Event>();
            try { WriteEvents(pending); }
            catch
            {
                buffer = pending;
                throw;
            }
        }

        /// <inheritdoc/>
        public Task StoreEventAsync(Event eventData) { return Task.Run(() => StoreEvent(eventData)); }

        /// <inheritdoc/>
        public Task StoreEventsAsync(IEnumerable<Event> events) { return Task.Run(() => StoreEvents(events)); }

        /// <inheritdoc/>
        public IEnumerable<Event> GetEvents(long startStep, long endStep)
        {
            EnsureInitialized();
            WriteBuffer();
            return ReadEvents(startStep, endStep);
        }

        /// <inheritdoc/>
        public Task<IEnumerable<Event>> GetEventsAsync(long startStep, long endStep)
        {
            return Task.Run(() => GetEvents(startStep, endStep));
        }

        /// <inheritdoc/>
        public void Flush()
        {
            EnsureInitialized();
            WriteBuffer();
            lock (gate) OnFlush();
        }

        /// <inheritdoc/>
        public Task FlushAsync() { return Task.Run(() => Flush()); }

        /// <inheritdoc/>
        public void Clear()
        {
            EnsureInitialized();
            lock (gate)
            {
                buffer.Clear();
                OnClear();
                Interlocked.Exchange(ref count, 0);
            }
        }

        /// <inheritdoc/>
        public void Shutdown()
        {
            if (!initialized) return;
            Timer t;
            lock (gate) { t = timer; timer = null; }
            if (t != null) t.Dispose();
            Flush();
            lock (gate)
            {
                OnShutdown();
                initialized = false;
            }
        }

        /// <summary>Flushes and shuts down.</summary>
        public void Dispose()
        {
            Shutdown();
            GC.SuppressFinalize(this);
        }
    }
}
