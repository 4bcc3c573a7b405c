using System;
using System.Collections.Generic;

namespace MLFramework.Visualization
{
    /// <summary>How urgently an event must be persisted.</summary>
    public enum EventPriority
    {
        /// <summary>Batched; may be dropped when the collector drops under backpressure.</summary>
        Normal = 0,
        /// <summary>Never dropped; flushed at once.</summary>
        Critical = 1,
    }

    /// <summary>The kind of an event (viz_event_kind; fixed values, checked against viz.h by
    /// the tests), for routing.</summary>
    public enum EventKind
    {
        /// <summary>ScalarEvent</summary>
        Scalar = 0,
        /// <summary>HistogramEvent</summary>
        Histogram = 1,
        /// <summary>TextEvent</summary>
        Text = 2,
        /// <summary>ImageEvent</summary>
        Image = 3,
        /// <summary>TensorEvent</summary>
        Tensor = 4,
        /// <summary>RawEvent</summary>
        Raw = 5,
    }

    /// <summary>Element type of a tensor (viz_dtype; fixed values).</summary>
    public enum DType
    {
        /// <summary>float</summary>
        F32 = 0,
        /// <summary>double</summary>
        F64 = 1,
        /// <summary>IEEE half</summary>
        F16 = 2,
        /// <summary>bfloat16</summary>
        BF16 = 3,
        /// <summary>sbyte</summary>
        I8 = 4,
        /// <summary>short</summary>
        I16 = 5,
        /// <summary>int</summary>
        I32 = 6,
        /// <summary>long</summary>
        I64 = 7,
        /// <summary>byte</summary>
        U8 = 8,
        /// <summary>ushort</summary>
        U16 = 9,
        /// <summary>uint</summary>
        U32 = 10,
        /// <summary>ulong</summary>
        U64 = 11,
        /// <summary>one byte per boolean</summary>
        Bool = 12,
    }

    /// <summary>A visualization event: a tag, a step, a wall time and a payload.</summary>
    public abstract class Event
    {
        private static readonly DateTime Epoch = new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc);

        /// <summary>What is recorded, such as "train/loss" (1 to 1024 bytes of UTF-8).</summary>
        public string Tag { get; set; }

        /// <summary>The training step.</summary>
        public long Step { get; set; }

        /// <summary>When it happened; null means "when collected" (stamped natively).</summary>
        public DateTime? WallTime { get; set; }

        /// <summary>Delivery priority.</summary>
        public EventPriority Priority { get; set; }

        /// <summary>An event with a tag and step.</summary>
        protected Event(string tag, long step)
        {
            Tag = tag;
            Step = step;
        }

        internal double WallTimeSeconds
        {
            get { return WallTime.HasValue ? (WallTime.Value.ToUniversalTime() - Epoch).TotalSeconds : 0.0; }
        }

        internal static DateTime? FromSeconds(double seconds)
        {
            return seconds == 0.0 ? (DateTime?)null : Epoch.AddTicks((long)(seconds * TimeSpan.TicksPerSecond));
        }
    }

    /// <summary>A single number, such as a loss.</summary>
    public sealed class ScalarEvent : Event
    {
        /// <summary>The value.</summary>
        public double Value { get; set; }

        /// <summary>A scalar event.</summary>
        public ScalarEvent(string tag, long step, double value) : base(tag, step) { Value = value; }
    }

    /// <summary>Text, such as a sample prediction or a note.</summary>
    public sealed class TextEvent : Event
    {
        /// <summary>The text.</summary>
        public string Text { get; set; }

        /// <summary>A text event.</summary>
        public TextEvent(string tag, long step, string text) : base(tag, step) { Text = text; }
    }

    /// <summary>
    /// A distribution. Give raw values (bucketed natively into Bins equal-width buckets)
    /// or buckets: right edges (strictly increasing) with a count each. Events read back
    /// carry buckets.
    /// </summary>
    public sealed class HistogramEvent : Event
    {
        /// <summary>Raw values to bucket, or null.</summary>
        public double[] Values { get; set; }

        /// <summary>Buckets to make from Values (0 means 30).</summary>
        public int Bins { get; set; }

        /// <summary>Right edge of each bucket, or null when Values are given.</summary>
        public double[] BucketLimits { get; set; }

        /// <summary>Count in each bucket.</summary>
        public double[] BucketCounts { get; set; }

        /// <summary>A histogram of raw values.</summary>
        public HistogramEvent(string tag, long step, double[] values, int bins = 30) : base(tag, step)
        {
            Values = values;
            Bins = bins;
        }

        /// <summary>A histogram from buckets.</summary>
        public HistogramEvent(string tag, long step, double[] bucketLimits, double[] bucketCounts) : base(tag, step)
        {
            BucketLimits = bucketLimits;
            BucketCounts = bucketCounts;
        }
    }

    /// <summary>An image as PNG bytes.</summary>
    public sealed class ImageEvent : Event
    {
        /// <summary>The PNG file's bytes.</summary>
        public byte[] Png { get; set; }

        /// <summary>Width in pixels (checked against the PNG header).</summary>
        public int Width { get; set; }

        /// <summary>Height in pixels (checked against the PNG header).</summary>
        public int Height { get; set; }

        /// <summary>1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA).</summary>
        public int Channels { get; set; }

        /// <summary>An image event.</summary>
        public ImageEvent(string tag, long step, byte[] png, int width, int height, int channels = 4) : base(tag, step)
        {
            Png = png;
            Width = width;
            Height = height;
            Channels = channels;
        }
    }

    /// <summary>A dense tensor: little-endian elements in row-major order.</summary>
    public sealed class TensorEvent : Event
    {
        /// <summary>Element type.</summary>
        public DType DType { get; set; }

        /// <summary>Dimensions; empty for a scalar tensor.</summary>
        public long[] Shape { get; set; }

        /// <summary>Element bytes: the product of Shape times the element size.</summary>
        public byte[] Data { get; set; }

        /// <summary>A tensor event.</summary>
        public TensorEvent(string tag, long step, DType dtype, long[] shape, byte[] data) : base(tag, step)
        {
            DType = dtype;
            Shape = shape;
            Data = data;
        }

        /// <summary>A float tensor of the given shape.</summary>
        public static TensorEvent FromFloats(string tag, long step, float[] values, params long[] shape)
        {
            if (values == null) throw new ArgumentNullException("values");
            var data = new byte[values.Length * 4];
            Buffer.BlockCopy(values, 0, data, 0, data.Length);
            return new TensorEvent(tag, step, DType.F32, shape, data);
        }
    }

    /// <summary>Opaque bytes with a MIME content type.</summary>
    public sealed class RawEvent : Event
    {
        /// <summary>MIME type, such as "application/octet-stream".</summary>
        public string ContentType { get; set; }

        /// <summary>The bytes.</summary>
        public byte[] Data { get; set; }

        /// <summary>A raw-bytes event.</summary>
        public RawEvent(string tag, long step, string contentType, byte[] data) : base(tag, step)
        {
            ContentType = contentType;
            Data = data;
        }
    }
}
