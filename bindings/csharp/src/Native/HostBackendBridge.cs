// A C# IStorageBackend presented to native code through viz_backend_register.
//
// Each registration owns its delegates: a normal GCHandle to the registration is the
// native userdata, so the delegates stay alive for as long as native code can call
// them, and the finalizer callback (run by viz exactly once, after unregistering and
// after the last native instance is gone) frees that handle. A type registered with a
// factory makes one C# backend per native instance: init hands viz a GCHandle to it
// as that instance's userdata, and shutdown (once per instance) frees the handle.
// Every callback catches every exception and answers with a status: nothing unwinds
// into native code.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;
using MLFramework.Visualization.Storage;

namespace MLFramework.Visualization.Native
{
    internal sealed unsafe class HostBackendBridge
    {
        private readonly string typeName;
        private readonly Func<IStorageBackend> factory;
        private readonly IStorageBackend fixedInstance;
        private long failures;

        // Kept alive by this object, itself kept alive by the GCHandle given as userdata.
        private readonly InitFn init;
        private readonly StoreBatchFn storeBatch;
        private readonly GetEventsFn getEvents;
        private readonly UserdataFn flush, clear, shutdown;
        private readonly EventCountFn eventCount;
        private readonly FinalizerFn finalizer;
        private GCHandle self;

        /// <summary>Count of registrations not yet finalized, for tests and diagnostics.</summary>
        private static int liveRegistrations;

        /// <summary>Registrations whose finalizer has not run yet.</summary>
        internal static int LiveRegistrations { get { return Volatile.Read(ref liveRegistrations); } }

        /// <summary>Exceptions the backend threw into callbacks (each became an error status).</summary>
        internal long Failures { get { return Interlocked.Read(ref failures); } }

        /// <summary>The last exception a callback caught.</summary>
        internal Exception LastException { get; private set; }

        private HostBackendBridge(string typeName, Func<IStorageBackend> factory, IStorageBackend instance)
        {
            this.typeName = typeName;
            this.factory = factory;
            fixedInstance = instance;
            init = Init;
            storeBatch = StoreBatch;
            getEvents = GetEvents;
            flush = Flush;
            clear = Clear;
            shutdown = Shutdown;
            eventCount = EventCount;
            finalizer = OnFinalize;
        }

        /// <summary>Registers a type whose native instances are each made by factory.</summary>
        internal static HostBackendBridge Register(string typeName, Func<IStorageBackend> factory)
        {
            return Register(new HostBackendBridge(typeName, factory, null));
        }

        /// <summary>Registers a type served by one existing object.</summary>
        internal static HostBackendBridge Register(string typeName, IStorageBackend instance)
        {
            return Register(new HostBackendBridge(typeName, null, instance));
        }

        private static HostBackendBridge Register(HostBackendBridge b)
        {
            var vtable = new VizBackendVTable
            {
                Init = Marshal.GetFunctionPointerForDelegate(b.init),
                StoreBatch = Marshal.GetFunctionPointerForDelegate(b.storeBatch),
                GetEvents = Marshal.GetFunctionPointerForDelegate(b.getEvents),
                Flush = Marshal.GetFunctionPointerForDelegate(b.flush),
                EventCount = Marshal.GetFunctionPointerForDelegate(b.eventCount),
                Clear = Marshal.GetFunctionPointerForDelegate(b.clear),
                Shutdown = Marshal.GetFunctionPointerForDelegate(b.shutdown),
            };
            b.self = GCHandle.Alloc(b);
            int status = NativeMethods.viz_backend_register(Utf8.Encode(b.typeName), ref vtable,
                GCHandle.ToIntPtr(b.self), Marshal.GetFunctionPointerForDelegate(b.finalizer));
            if (status != 0)
            {
                // A failed registration is never finalized: release it here.
                var error = VizErrors.For((VizStatus)status, VizErrors.LastMessage());
                b.self.Free();
                throw error;
            }
            Interlocked.Increment(ref liveRegistrations);
            return b;
        }

        /// <summary>Removes the type; the finalizer runs once native code lets go.</summary>
        internal static bool Unregister(string typeName)
        {
            return NativeMethods.viz_backend_unregister(Utf8.Encode(typeName)) == 0;
        }

        private static HostBackendBridge Of(IntPtr userdata)
        {
            return (HostBackendBridge)GCHandle.FromIntPtr(userdata).Target;
        }

        private int Fail(Exception e)
        {
            Interlocked.Increment(ref failures);
            LastException = e;
            try
            {
                // The exception's own words travel with the status to whoever sees the error.
                NativeMethods.viz_backend_set_error(Utf8.Encode(e.GetType().Name + ": " + e.Message));
            }
            catch
            {
                // A message that cannot be passed on must not stop the status.
            }
            return VizErrors.StatusFor(e);
        }

        /// <summary>The backend of the instance whose userdata this is.</summary>
        private IStorageBackend Backend(IntPtr userdata)
        {
            if (fixedInstance != null) return fixedInstance;
            var b = GCHandle.FromIntPtr(userdata).Target as IStorageBackend;
            if (b == null) throw new InvalidOperationException("backend type " + typeName + " has no open instance here");
            return b;
        }

        private int Init(IntPtr userdata, IntPtr connectionString, IntPtr instance)
        {
            try
            {
                string cs = Utf8.Decode(connectionString);
                if (fixedInstance != null)
                {
                    if (!fixedInstance.IsInitialized) fixedInstance.Initialize(cs);
                    return 0;
                }
                var b = factory();
                if (b == null) throw new InvalidOperationException("the factory of backend type " + typeName + " returned null");
                if (!b.IsInitialized) b.Initialize(cs);
                // Only a successful init hands viz a handle: it then calls shutdown, once.
                Marshal.WriteIntPtr(instance, GCHandle.ToIntPtr(GCHandle.Alloc(b)));
                return 0;
            }
            catch (Exception e) { return Fail(e); }
        }

        private int StoreBatch(IntPtr userdata, IntPtr events, UIntPtr len)
        {
            try
            {
                int n = (int)(ulong)len;
                var batch = new List<Event>(n);
                var views = (VizEvent*)events;
                for (int i = 0; i < n; i++) batch.Add(EventReader.Read(views + i));
                Backend(userdata).StoreEvents(batch);
                return 0;
            }
            catch (Exception e) { return Fail(e); }
        }

        private int GetEvents(IntPtr userdata, long startStep, long endStep, IntPtr sink)
        {
            try
            {
                var events = new List<Event>(Backend(userdata).GetEvents(startStep, endStep));
                using (var pinned = new PinnedEvents(events))
                {
                    fixed (VizEvent* views = pinned.Views)
                    {
                        for (int i = 0; i < events.Count; i++)
                        {
                            int status = NativeMethods.viz_event_sink_push(sink, views + i);
                            if (status != 0) return status;
                        }
                    }
                }
                return 0;
            }
            catch (Exception e) { return Fail(e); }
        }

        private int Flush(IntPtr userdata)
        {
            try { Backend(userdata).Flush(); return 0; }
            catch (Exception e) { return Fail(e); }
        }

        private ulong EventCount(IntPtr userdata)
        {
            try { return (ulong)Backend(userdata).EventCount; }
            catch (Exception e) { Fail(e); return 0; }
        }

        private int Clear(IntPtr userdata)
        {
            try { Backend(userdata).Clear(); return 0; }
            catch (Exception e) { return Fail(e); }
        }

        private int Shutdown(IntPtr userdata)
        {
            try
            {
                // An object the host handed over stays the host's: flush it, do not close it.
                if (fixedInstance != null)
                {
                    fixedInstance.Flush();
                    return 0;
                }
                var handle = GCHandle.FromIntPtr(userdata);
                try { ((IStorageBackend)handle.Target).Shutdown(); }
                finally { handle.Free(); }
                return 0;
            }
            catch (Exception e) { return Fail(e); }
        }

        private void OnFinalize(IntPtr userdata)
        {
            try
            {
                if (self.IsAllocated) self.Free();
                Interlocked.Decrement(ref liveRegistrations);
            }
            catch
            {
                // Nothing may unwind into native code.
            }
        }
    }
}
