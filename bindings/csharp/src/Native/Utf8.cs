using System;
using System.Text;

namespace MLFramework.Visualization.Native
{
    /// <summary>UTF-8 in and out of native code, the same on every runtime.</summary>
    internal static unsafe class Utf8
    {
        private static readonly UTF8Encoding Strict = new UTF8Encoding(false, true);

        /// <summary>NUL-terminated UTF-8 for a native call; null stays null.</summary>
        internal static byte[] Encode(string s)
        {
            if (s == null) return null;
            var bytes = new byte[Strict.GetByteCount(s) + 1];
            Strict.GetBytes(s, 0, s.Length, bytes, 0);
            return bytes;
        }

        /// <summary>A NUL-terminated native UTF-8 string; null for a null pointer.</summary>
        internal static string Decode(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            byte* b = (byte*)p;
            int n = 0;
            while (b[n] != 0) n++;
            return Strict.GetString(b, n);
        }

        /// <summary>The first <paramref name="n"/> bytes of a buffer, as UTF-8.</summary>
        internal static string Decode(byte[] bytes, int n)
        {
            return Strict.GetString(bytes, 0, n);
        }
    }
}
