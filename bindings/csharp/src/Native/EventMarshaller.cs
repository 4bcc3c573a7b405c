// Events between C# objects and viz_event structs. Outgoing events are pinned for
// the duration of one native call (viz copies what it keeps); incoming ones are
// copied out of the native views before the call that lent them returns.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace MLFramework.Visualization.Native
{
    /// <summary>viz_event structs for a batch of events, with everything they point to pinned.</summary>
    internal sealed unsafe class PinnedEvents : IDisposable
    {
        private readonly List<GCHandle> pins = new List<GCHandle>();
        internal readonly VizEvent[] Views;

        internal PinnedEvents(IList<Event> events)
        {
            Views = new VizEvent[events.Count];
            try
            {
                for (int i = 0; i < events.Count; i++)
                {
                    if (events[i] == null) throw new ArgumentNullException("events", "events[" + i + "] is null");
                    Views[i] = View(events[i]);
                }
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        private IntPtr Pin(object o)
        {
            if (o == null) return IntPtr.Zero;
            var h = GCHandle.Alloc(o, GCHandleType.Pinned);
            pins.Add(h);
            return h.AddrOfPinnedObject();
        }

        private static UIntPtr Len(Array a) { return (UIntPtr)(a == null ? 0 : a.Length); }

        private VizEvent View(Event e)
        {
            var v = new VizEvent();
            v.Tag = Pin(Utf8.Encode(e.Tag));
            v.Step = e.Step;
            v.WallTime = e.WallTimeSeconds;
            v.Priority = (uint)e.Priority;
            var scalar = e as ScalarEvent;
            var text = e as TextEvent;
            var hist = e as HistogramEvent;
            var image = e as ImageEvent;
            var tensor = e as TensorEvent;
            var raw = e as RawEvent;
            if (scalar != null)
            {
                v.Kind = (uint)EventKind.Scalar;
                v.Scalar = scalar.Value;
            }
            else if (hist != null)
            {
                v.Kind = (uint)EventKind.Histogram;
                if (hist.Values != null)
                {
                    v.Values = Pin(hist.Values);
                    v.ValuesLen = Len(hist.Values);
                    v.Bins = (uint)Math.Max(0, hist.Bins);
                }
                else
                {
                    if (hist.BucketLimits == null || hist.BucketCounts == null)
                        throw new ArgumentException("histogram '" + e.Tag + "' needs Values, or BucketLimits and BucketCounts");
                    if (hist.BucketLimits.Length != hist.BucketCounts.Length)
                        throw new ArgumentException("histogram '" + e.Tag + "' has " + hist.BucketLimits.Length
                            + " bucket limits but " + hist.BucketCounts.Length + " counts");
                    v.BucketLimits = Pin(hist.BucketLimits);
                    v.BucketCounts = Pin(hist.BucketCounts);
                    v.BucketsLen = Len(hist.BucketLimits);
                }
            }
            else if (text != null)
            {
                v.Kind = (uint)EventKind.Text;
                v.Text = Pin(Utf8.Encode(text.Text));
            }
            else if (image != null)
            {
                v.Kind = (uint)EventKind.Image;
                v.Data = Pin(image.Png);
                v.DataLen = Len(image.Png);
                v.Width = (uint)image.Width;
                v.Height = (uint)image.Height;
                v.Channels = (uint)image.Channels;
            }
            else if (tensor != null)
            {
                v.Kind = (uint)EventKind.Tensor;
                v.DType = (uint)tensor.DType;
                ulong[] shape = null;
                if (tensor.Shape != null)
                {
                    shape = new ulong[tensor.Shape.Length];
                    for (int i = 0; i < shape.Length; i++)
                    {
                        if (tensor.Shape[i] < 0) throw new ArgumentException("tensor '" + e.Tag + "' has negative dimension " + tensor.Shape[i]);
                        shape[i] = (ulong)tensor.Shape[i];
                    }
                }
                v.Shape = Pin(shape);
                v.ShapeLen = Len(shape);
                v.Data = Pin(tensor.Data);
                v.DataLen = Len(tensor.Data);
            }
            else if (raw != null)
            {
                v.Kind = (uint)EventKind.Raw;
                v.ContentType = Pin(Utf8.Encode(raw.ContentType));
                v.Data = Pin(raw.Data);
                v.DataLen = Len(raw.Data);
            }
            else
            {
                throw new ArgumentException("unsupported event type " + e.GetType().FullName);
            }
            return v;
        }

        public void Dispose()
        {
            foreach (var h in pins) h.Free();
            pins.Clear();
        }
    }

    internal static unsafe class EventReader
    {
        private static T[] Copy<T>(IntPtr p, UIntPtr len, int size) where T : struct
        {
            int n = (int)(ulong)len;
            var a = new T[n];
            if (n > 0)
            {
                var h = GCHandle.Alloc(a, GCHandleType.Pinned);
                try { Buffer.MemoryCopy((void*)p, (void*)h.AddrOfPinnedObject(), (long)n * size, (long)n * size); }
                finally { h.Free(); }
            }
            return a;
        }

        /// <summary>A C# event copied from a native view.</summary>
        internal static Event Read(VizEvent* v)
        {
            string tag = Utf8.Decode(v->Tag);
            Event e;
            switch ((EventKind)v->Kind)
            {
                case EventKind.Scalar: e = new ScalarEvent(tag, v->Step, v->Scalar); break;
                case EventKind.Histogram:
                    e = new HistogramEvent(tag, v->Step, Copy<double>(v->BucketLimits, v->BucketsLen, 8),
                        Copy<double>(v->BucketCounts, v->BucketsLen, 8));
                    break;
                case EventKind.Text: e = new TextEvent(tag, v->Step, Utf8.Decode(v->Text)); break;
                case EventKind.Image:
                    e = new ImageEvent(tag, v->Step, Copy<byte>(v->Data, v->DataLen, 1), (int)v->Width, (int)v->Height, (int)v->Channels);
                    break;
                case EventKind.Tensor:
                    var dims = Copy<ulong>(v->Shape, v->ShapeLen, 8);
                    var shape = new long[dims.Length];
                    for (int i = 0; i < dims.Length; i++) shape[i] = (long)dims[i];
                    e = new TensorEvent(tag, v->Step, (DType)v->DType, shape, Copy<byte>(v->Data, v->DataLen, 1));
                    break;
                case EventKind.Raw: e = new RawEvent(tag, v->Step, Utf8.Decode(v->ContentType), Copy<byte>(v->Data, v->DataLen, 1)); break;
                default: throw new InvalidOperationException("unknown native event kind " + v->Kind);
            }
            e.WallTime = Event.FromSeconds(v->WallTime);
            e.Priority = (EventPriority)v->Priority;
            return e;
        }

        /// <summary>A query's results, read from the cursor `batch` at a time as they are
        /// enumerated; the cursor is freed when enumeration ends.</summary>
        internal static IEnumerable<Event> ReadCursor(CursorHandle cursor, int batch)
        {
            using (cursor)
            {
                while (true)
                {
                    EventsHandle page;
                    VizErrors.Check(NativeMethods.viz_cursor_next(cursor, (UIntPtr)batch, out page));
                    var events = ReadAll(page);
                    if (events.Count == 0) yield break;
                    foreach (var e in events) yield return e;
                }
            }
        }

        /// <summary>Every event of a read result, copied; the result is freed.</summary>
        internal static List<Event> ReadAll(EventsHandle events)
        {
            using (events)
            {
                ulong n = (ulong)NativeMethods.viz_event_list_len(events);
                var list = new List<Event>((int)n);
                for (ulong i = 0; i < n; i++) list.Add(Read(NativeMethods.viz_event_list_get(events, (UIntPtr)i)));
                return list;
            }
        }
    }
}
