// What the read side computes besides events: per-tag statistics and downsampled
// step buckets, copied out of viz's lists.
using System;
using System.Collections.Generic;
using MLFramework.Visualization.Native;

namespace MLFramework.Visualization.Storage
{
    /// <summary>One tag's scalar statistics (Aggregate). NaN values count in Count
    /// only; Min, Max and Mean are NaN when every value was.</summary>
    public sealed class TagAggregate
    {
        /// <summary>The tag.</summary>
        public string Tag { get; internal set; }
        /// <summary>Scalars selected.</summary>
        public long Count { get; internal set; }
        /// <summary>Smallest value.</summary>
        public double Min { get; internal set; }
        /// <summary>Largest value.</summary>
        public double Max { get; internal set; }
        /// <summary>Mean value.</summary>
        public double Mean { get; internal set; }
        /// <summary>Step of the first scalar, in stored order.</summary>
        public long FirstStep { get; internal set; }
        /// <summary>Its value.</summary>
        public double First { get; internal set; }
        /// <summary>Step of the last scalar, in stored order.</summary>
        public long LastStep { get; internal set; }
        /// <summary>Its value: the tag's latest.</summary>
        public double Last { get; internal set; }
    }

    /// <summary>One step bucket of a downsampled series (Downsample): the scalars with
    /// FirstStep &lt;= step &lt;= LastStep.</summary>
    public sealed class StepBucket
    {
        /// <summary>First step the bucket covers.</summary>
        public long FirstStep { get; internal set; }
        /// <summary>Last step it covers.</summary>
        public long LastStep { get; internal set; }
        /// <summary>Scalars in it (empty buckets are left out).</summary>
        public long Count { get; internal set; }
        /// <summary>Smallest value.</summary>
        public double Min { get; internal set; }
        /// <summary>Largest value.</summary>
        public double Max { get; internal set; }
        /// <summary>Mean value.</summary>
        public double Mean { get; internal set; }
    }

    internal static unsafe class ReadResults
    {
        /// <summary>The rows of an aggregate list, copied; the list is freed.</summary>
        internal static IReadOnlyList<TagAggregate> Aggregates(AggregateListHandle list)
        {
            using (list)
            {
                var rows = new List<TagAggregate>();
                ulong n = NativeMethods.viz_aggregate_list_len(list).ToUInt64();
                for (ulong i = 0; i < n; i++)
                {
                    var a = NativeMethods.viz_aggregate_list_get(list, new UIntPtr(i));
                    rows.Add(new TagAggregate
                    {
                        Tag = Utf8.Decode(a->Tag), Count = (long)a->Count, Min = a->Min, Max = a->Max, Mean = a->Mean,
                        FirstStep = a->FirstStep, First = a->First, LastStep = a->LastStep, Last = a->Last,
                    });
                }
                return rows.AsReadOnly();
            }
        }

        /// <summary>The buckets of a bucket list, copied; the list is freed.</summary>
        internal static IReadOnlyList<StepBucket> Buckets(BucketListHandle list)
        {
            using (list)
            {
                var rows = new List<StepBucket>();
                ulong n = NativeMethods.viz_bucket_list_len(list).ToUInt64();
                for (ulong i = 0; i < n; i++)
                {
                    var b = NativeMethods.viz_bucket_list_get(list, new UIntPtr(i));
                    rows.Add(new StepBucket
                    {
                        FirstStep = b->FirstStep, LastStep = b->LastStep, Count = (long)b->Count,
                        Min = b->Min, Max = b->Max, Mean = b->Mean,
                    });
                }
                return rows.AsReadOnly();
            }
        }

        /// <summary>A selection-only query's JSON, or null (every event).</summary>
        internal static byte[] Selection(string queryJson)
        {
            return queryJson == null ? null : Utf8.Encode(queryJson);
        }
    }
}
