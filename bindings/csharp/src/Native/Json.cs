// The little JSON the binding exchanges with libviz for run metadata: C# values to
// JSON text and back, without a JSON library (Mono's profile has none built in).
using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace MLFramework.Visualization.Native
{
    internal static class Json
    {
        /// <summary>JSON text of a string, number, bool, null, dictionary (string keys)
        /// or sequence; anything else is refused by name.</summary>
        internal static string Write(object value)
        {
            var sb = new StringBuilder();
            Write(sb, value);
            return sb.ToString();
        }

        private static void Write(StringBuilder sb, object v)
        {
            if (v == null) { sb.Append("null"); return; }
            if (v is string) { WriteString(sb, (string)v); return; }
            if (v is bool) { sb.Append((bool)v ? "true" : "false"); return; }
            if (v is double || v is float)
            {
                double d = Convert.ToDouble(v, CultureInfo.InvariantCulture);
                if (double.IsNaN(d) || double.IsInfinity(d)) throw new ArgumentException("metadata values must be finite numbers, not " + d);
                sb.Append(d.ToString("R", CultureInfo.InvariantCulture));
                return;
            }
            if (v is int || v is long || v is short || v is byte || v is uint || v is ulong || v is decimal)
            {
                sb.Append(Convert.ToString(v, CultureInfo.InvariantCulture));
                return;
            }
            var dict = v as IDictionary;
            if (dict != null)
            {
                sb.Append('{');
                bool first = true;
                foreach (DictionaryEntry e in dict)
                {
                    if (!(e.Key is string)) throw new ArgumentException("metadata object keys must be strings");
                    if (!first) sb.Append(',');
                    first = false;
                    WriteString(sb, (string)e.Key);
                    sb.Append(':');
                    Write(sb, e.Value);
                }
                sb.Append('}');
                return;
            }
            var seq = v as IEnumerable;
            if (seq != null)
            {
                sb.Append('[');
                bool first = true;
                foreach (var item in seq)
                {
                    if (!first) sb.Append(',');
                    first = false;
                    Write(sb, item);
                }
                sb.Append(']');
                return;
            }
            throw new ArgumentException("a metadata value must be a string, number, bool, null, dictionary or sequence, not " + v.GetType().Name);
        }

        private static void WriteString(StringBuilder sb, string s)
        {
            sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    default:
                        if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4"));
                        else sb.Append(c);
                        break;
                }
            }
            sb.Append('"');
        }

        /// <summary>Parses JSON text that libviz wrote: objects become
        /// Dictionary&lt;string, object&gt;, arrays List&lt;object&gt;, numbers double.</summary>
        internal static object Read(string text)
        {
            int at = 0;
            var v = Value(text, ref at);
            Space(text, ref at);
            if (at != text.Length) throw new FormatException("unexpected JSON after the value at " + at);
            return v;
        }

        private static void Space(string t, ref int at)
        {
            while (at < t.Length && char.IsWhiteSpace(t[at])) at++;
        }

        private static object Value(string t, ref int at)
        {
            Space(t, ref at);
            if (at >= t.Length) throw new FormatException("JSON ends early");
            char c = t[at];
            if (c == '{')
            {
                var obj = new Dictionary<string, object>();
                at++;
                Space(t, ref at);
                if (t[at] == '}') { at++; return obj; }
                while (true)
                {
                    Space(t, ref at);
                    string key = Str(t, ref at);
                    Space(t, ref at);
                    Expect(t, ref at, ':');
                    obj[key] = Value(t, ref at);
                    Space(t, ref at);
                    if (t[at] == ',') { at++; continue; }
                    Expect(t, ref at, '}');
                    return obj;
                }
            }
            if (c == '[')
            {
                var list = new List<object>();
                at++;
                Space(t, ref at);
                if (t[at] == ']') { at++; return list; }
                while (true)
                {
                    list.Add(Value(t, ref at));
                    Space(t, ref at);
                    if (t[at] == ',') { at++; continue; }
                    Expect(t, ref at, ']');
                    return list;
                }
            }
            if (c == '"') return Str(t, ref at);
            if (t.Substring(at).StartsWith("true", StringComparison.Ordinal)) { at += 4; return true; }
            if (t.Substring(at).StartsWith("false", StringComparison.Ordinal)) { at += 5; return false; }
            if (t.Substring(at).StartsWith("null", StringComparison.Ordinal)) { at += 4; return null; }
            int start = at;
            while (at < t.Length && "+-0123456789.eE".IndexOf(t[at]) >= 0) at++;
            return double.Parse(t.Substring(start, at - start), NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        private static void Expect(string t, ref int at, char c)
        {
            if (at >= t.Length || t[at] != c) throw new FormatException("expected '" + c + "' at " + at);
            at++;
        }

        private static string Str(string t, ref int at)
        {
            Expect(t, ref at, '"');
            var sb = new StringBuilder();
            while (t[at] != '"')
            {
                char c = t[at++];
                if (c != '\\') { sb.Append(c); continue; }
                char e = t[at++];
                switch (e)
                {
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'u': sb.Append((char)Convert.ToInt32(t.Substring(at, 4), 16)); at += 4; break;
                    default: sb.Append(e); break;
                }
            }
            at++;
            return sb.ToString();
        }
    }
}
