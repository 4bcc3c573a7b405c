using System.Collections.Generic;
using System.Threading.Tasks;

namespace MLFramework.Visualization.Collection
{
    /// <summary>Collects events and persists them in the background (seed 004).</summary>
    public interface IEventCollector
    {
        /// <summary>Settings; changes apply when the collector is (re)started.</summary>
        EventCollectorConfig Config { get; set; }

        /// <summary>Queues an event. Never waits for I/O.</summary>
        void Collect<T>(T eventData) where T : Event;
        /// <summary>Queues an event; completes once it is queued.</summary>
        Task CollectAsync<T>(T eventData) where T : Event;

        /// <summary>Returns once everything collected before the call is stored and flushed.</summary>
        void Flush();
        /// <summary>Flush without blocking the caller.</summary>
        Task FlushAsync();

        /// <summary>Starts delivering (events collected before are delivered too).</summary>
        void Start();
        /// <summary>Stops accepting events, delivers and flushes what was collected.</summary>
        void Stop();
        /// <summary>Whether started and not stopped.</summary>
        bool IsRunning { get; }
        /// <summary>Events collected but not yet handed to the backends.</summary>
        int PendingEventCount { get; }
    }

    /// <summary>Receives batches of events in process (seed 004's subscribers).</summary>
    public interface IEventSubscriber
    {
        /// <summary>Called on a background thread with each delivered batch.</summary>
        void OnEvents(IReadOnlyList<Event> events);
    }
}
