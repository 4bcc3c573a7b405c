using System.Collections.Generic;
using System.Threading.Tasks;

namespace MLFramework.Visualization.Storage
{
    /// <summary>Where events are persisted (seed 000).</summary>
    public interface IStorageBackend
    {
        /// <summary>Opens the backend for a connection string such as "file:///runs/exp1".</summary>
        void Initialize(string connectionString);
        /// <summary>Flushes and closes.</summary>
        void Shutdown();
        /// <summary>Whether Initialize succeeded and Shutdown has not run.</summary>
        bool IsInitialized { get; }

        /// <summary>Stores one event.</summary>
        void StoreEvent(Event eventData);
        /// <summary>Stores one event without blocking the caller.</summary>
        Task StoreEventAsync(Event eventData);
        /// <summary>Stores a batch.</summary>
        void StoreEvents(IEnumerable<Event> events);
        /// <summary>Stores a batch without blocking the caller.</summary>
        Task StoreEventsAsync(IEnumerable<Event> events);

        /// <summary>Events with startStep &lt;= step &lt;= endStep; NotSupportedException for write-only backends.</summary>
        IEnumerable<Event> GetEvents(long startStep, long endStep);
        /// <summary>GetEvents without blocking the caller.</summary>
        Task<IEnumerable<Event>> GetEventsAsync(long startStep, long endStep);

        /// <summary>Makes everything stored so far durable.</summary>
        void Flush();
        /// <summary>Flush without blocking the caller.</summary>
        Task FlushAsync();
        /// <summary>Events stored since Initialize or Clear.</summary>
        long EventCount { get; }
        /// <summary>Removes every stored event.</summary>
        void Clear();
    }

    /// <summary>Creates backends by type name (seed 000).</summary>
    public interface IStorageBackendFactory
    {
        /// <summary>A backend of backendType, initialized with connectionString.</summary>
        IStorageBackend CreateBackend(string backendType, string connectionString);
    }
}
