// Command gogen writes fixture.json: for every case below, what Go's
// text/template produces (output or error message) for the template and data.
// Sprig functions are mirrored here from sprig/slim-sprig's source (the module
// cannot be downloaded in CI), so Go's own fmt, json, strings and reflect
// decide how their results print.
//
// Run from this directory (no module needed): go run main.go cases.go > fixture.json
package main

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/adler32"
	"math"
	"net/http"
	"os"
	"path"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
)

type testCase struct {
	Name       string `json:"name"`
	Template   string `json:"template"`
	Data       string `json:"data"`
	Funcs      string `json:"funcs"` // "" = builtins only, "sprig" = sprig + Easegress functions
	LeftDelim  string `json:"leftDelim,omitempty"`
	RightDelim string `json:"rightDelim,omitempty"`
	Output     string `json:"output"`
	Error      string `json:"error,omitempty"`
}

// convert turns JSON data into the Go values the TypeScript side builds:
// integral numbers are int, others float64; {"$type": ...} objects make typed values.
func convert(v interface{}) interface{} {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	case []interface{}:
		for i := range x {
			x[i] = convert(x[i])
		}
		return x
	case map[string]interface{}:
		if t, ok := x["$type"].(string); ok {
			val := x["value"]
			switch t {
			case "float":
				f, _ := val.(json.Number).Float64()
				return f
			case "json.Number":
				return json.Number(val.(string))
			case "bytes":
				return []byte(val.(string))
			case "http.Header":
				h := http.Header{}
				for k, vs := range val.(map[string]interface{}) {
					for _, s := range vs.([]interface{}) {
						h[k] = append(h[k], s.(string))
					}
				}
				return h
			case "strings":
				out := []string{}
				for _, s := range val.([]interface{}) {
					out = append(out, s.(string))
				}
				return out
			}
		}
		for k := range x {
			x[k] = convert(x[k])
		}
		return x
	}
	return v
}

func run(c testCase) testCase {
	var data interface{}
	if c.Data != "" {
		d := json.NewDecoder(strings.NewReader(c.Data))
		d.UseNumber()
		if err := d.Decode(&data); err != nil {
			panic(c.Name + ": bad data: " + err.Error())
		}
		data = convert(data)
	}
	t := template.New("t").Delims(c.LeftDelim, c.RightDelim)
	if c.Funcs == "sprig" {
		t = t.Funcs(sprigFuncs()).Funcs(easegressFuncs())
	}
	t, err := t.Parse(c.Template)
	if err != nil {
		c.Error = err.Error()
		return c
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		c.Error = err.Error()
	}
	c.Output = buf.String()
	return c
}

func main() {
	all := append(append([]testCase{}, builtinCases...), sprigCases...)
	out := make([]testCase, 0, len(all))
	seen := map[string]bool{}
	for _, c := range all {
		if seen[c.Name] {
			panic("duplicate case name " + c.Name)
		}
		seen[c.Name] = true
		out = append(out, run(c))
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		panic(err)
	}
}

// ---- sprig mirror (slim-sprig semantics) ----

func strval(v interface{}) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case error:
		return v.Error()
	case fmt.Stringer:
		return v.String()
	default:
		return fmt.Sprintf("%v", v)
	}
}

func strslice(v interface{}) []string {
	switch v := v.(type) {
	case []string:
		return v
	case []interface{}:
		b := make([]string, 0, len(v))
		for _, s := range v {
			if s != nil {
				b = append(b, strval(s))
			}
		}
		return b
	default:
		val := reflect.ValueOf(v)
		switch val.Kind() {
		case reflect.Array, reflect.Slice:
			l := val.Len()
			b := make([]string, 0, l)
			for i := 0; i < l; i++ {
				value := val.Index(i).Interface()
				if value != nil {
					b = append(b, strval(value))
				}
			}
			return b
		default:
			if v == nil {
				return []string{}
			}
			return []string{strval(v)}
		}
	}
}

func toInt64(v interface{}) int64 {
	if str, ok := v.(string); ok {
		iv, err := strconv.ParseInt(str, 10, 64)
		if err != nil {
			return 0
		}
		return iv
	}
	val := reflect.Indirect(reflect.ValueOf(v))
	switch val.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return val.Int()
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return int64(val.Uint())
	case reflect.Uint, reflect.Uint64:
		tv := val.Uint()
		if tv <= math.MaxInt64 {
			return int64(tv)
		}
		return math.MaxInt64
	case reflect.Float32, reflect.Float64:
		return int64(val.Float())
	case reflect.Bool:
		if val.Bool() {
			return 1
		}
		return 0
	default:
		return 0
	}
}

func toInt(v interface{}) int { return int(toInt64(v)) }

func toFloat64(v interface{}) float64 {
	if str, ok := v.(string); ok {
		iv, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return 0
		}
		return iv
	}
	val := reflect.Indirect(reflect.ValueOf(v))
	switch val.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(val.Int())
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return float64(val.Uint())
	case reflect.Uint, reflect.Uint64:
		return float64(val.Uint())
	case reflect.Float32, reflect.Float64:
		return val.Float()
	case reflect.Bool:
		if val.Bool() {
			return 1
		}
		return 0
	default:
		return 0
	}
}

func empty(given interface{}) bool {
	g := reflect.ValueOf(given)
	if !g.IsValid() {
		return true
	}
	switch g.Kind() {
	default:
		return g.IsNil()
	case reflect.Array, reflect.Slice, reflect.Map, reflect.String:
		return g.Len() == 0
	case reflect.Bool:
		return !g.Bool()
	case reflect.Complex64, reflect.Complex128:
		return g.Complex() == 0
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return g.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return g.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return g.Float() == 0
	case reflect.Struct:
		return false
	}
}

func indent(spaces int, v string) string {
	pad := strings.Repeat(" ", spaces)
	return pad + strings.Replace(v, "\n", "\n"+pad, -1)
}

func listOf(name string, v interface{}) ([]interface{}, error) {
	tp := reflect.TypeOf(v).Kind()
	switch tp {
	case reflect.Slice, reflect.Array:
		l2 := reflect.ValueOf(v)
		nl := make([]interface{}, l2.Len())
		for i := range nl {
			nl[i] = l2.Index(i).Interface()
		}
		return nl, nil
	}
	return nil, fmt.Errorf("Cannot %s on type %s", name, tp)
}

func mustNoErr(v interface{}, err error) interface{} {
	if err != nil {
		panic(err)
	}
	return v
}

func inList(haystack []interface{}, needle interface{}) bool {
	for _, h := range haystack {
		if reflect.DeepEqual(needle, h) {
			return true
		}
	}
	return false
}

func dateInZone(fmt string, date interface{}, zone string) string {
	var t time.Time
	switch date := date.(type) {
	default:
		t = time.Now()
	case time.Time:
		t = date
	case *time.Time:
		t = *date
	case int64:
		t = time.Unix(date, 0)
	case int:
		t = time.Unix(int64(date), 0)
	case int32:
		t = time.Unix(int64(date), 0)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		loc, _ = time.LoadLocation("UTC")
	}
	return t.In(loc).Format(fmt)
}

func sprigFuncs() template.FuncMap {
	return template.FuncMap{
		"hello":      func() string { return "Hello!" },
		"upper":      strings.ToUpper,
		"lower":      strings.ToLower,
		"title":      strings.Title,
		"trim":       strings.TrimSpace,
		"trimAll":    func(a, b string) string { return strings.Trim(b, a) },
		"trimSuffix": func(a, b string) string { return strings.TrimSuffix(b, a) },
		"trimPrefix": func(a, b string) string { return strings.TrimPrefix(b, a) },
		"trunc": func(c int, s string) string {
			if c < 0 && len(s)+c > 0 {
				return s[len(s)+c:]
			}
			if c >= 0 && len(s) > c {
				return s[:c]
			}
			return s
		},
		"substr": func(start, end int, s string) string {
			if start < 0 {
				return s[:end]
			}
			if end < 0 || end > len(s) {
				return s[start:]
			}
			return s[start:end]
		},
		"repeat":    func(count int, str string) string { return strings.Repeat(str, count) },
		"contains":  func(substr string, str string) bool { return strings.Contains(str, substr) },
		"hasPrefix": func(substr string, str string) bool { return strings.HasPrefix(str, substr) },
		"hasSuffix": func(substr string, str string) bool { return strings.HasSuffix(str, substr) },
		"quote": func(str ...interface{}) string {
			out := make([]string, 0, len(str))
			for _, s := range str {
				if s != nil {
					out = append(out, fmt.Sprintf("%q", strval(s)))
				}
			}
			return strings.Join(out, " ")
		},
		"squote": func(str ...interface{}) string {
			out := make([]string, 0, len(str))
			for _, s := range str {
				if s != nil {
					out = append(out, fmt.Sprintf("'%v'", s))
				}
			}
			return strings.Join(out, " ")
		},
		"cat": func(v ...interface{}) string {
			nv := []interface{}{}
			for _, i := range v {
				if i != nil {
					nv = append(nv, i)
				}
			}
			r := strings.TrimSpace(strings.Repeat("%v ", len(nv)))
			return fmt.Sprintf(r, nv...)
		},
		"indent":  indent,
		"nindent": func(spaces int, v string) string { return "\n" + indent(spaces, v) },
		"replace": func(old, new, src string) string { return strings.Replace(src, old, new, -1) },
		"plural": func(one, many string, count int) string {
			if count == 1 {
				return one
			}
			return many
		},
		"sha1sum": func(input string) string {
			hash := sha1.Sum([]byte(input))
			return hex.EncodeToString(hash[:])
		},
		"sha256sum": func(input string) string {
			hash := sha256.Sum256([]byte(input))
			return hex.EncodeToString(hash[:])
		},
		"adler32sum": func(input string) string {
			hash := adler32.Checksum([]byte(input))
			return fmt.Sprintf("%d", hash)
		},
		"toString":  strval,
		"toStrings": strslice,
		"atoi":      func(a string) int { i, _ := strconv.Atoi(a); return i },
		"int64":     toInt64,
		"int":       toInt,
		"float64":   toFloat64,
		"split": func(sep, orig string) map[string]string {
			parts := strings.Split(orig, sep)
			res := make(map[string]string, len(parts))
			for i, v := range parts {
				res["_"+strconv.Itoa(i)] = v
			}
			return res
		},
		"splitList": func(sep, orig string) []string { return strings.Split(orig, sep) },
		"splitn": func(sep string, n int, orig string) map[string]string {
			parts := strings.SplitN(orig, sep, n)
			res := make(map[string]string, len(parts))
			for i, v := range parts {
				res["_"+strconv.Itoa(i)] = v
			}
			return res
		},
		"join": func(sep string, v interface{}) string { return strings.Join(strslice(v), sep) },
		"sortAlpha": func(list interface{}) []string {
			k := reflect.Indirect(reflect.ValueOf(list)).Kind()
			switch k {
			case reflect.Slice, reflect.Array:
				a := strslice(list)
				s := sort.StringSlice(a)
				s.Sort()
				return s
			}
			return []string{strval(list)}
		},
		"until": func(count int) []int {
			step := 1
			if count < 0 {
				step = -1
			}
			return untilStep(0, count, step)
		},
		"untilStep": untilStep,
		"add1":      func(i interface{}) int64 { return toInt64(i) + 1 },
		"add": func(i ...interface{}) int64 {
			var a int64 = 0
			for _, b := range i {
				a += toInt64(b)
			}
			return a
		},
		"sub": func(a, b interface{}) int64 { return toInt64(a) - toInt64(b) },
		"div": func(a, b interface{}) int64 { return toInt64(a) / toInt64(b) },
		"mod": func(a, b interface{}) int64 { return toInt64(a) % toInt64(b) },
		"mul": func(a interface{}, v ...interface{}) int64 {
			val := toInt64(a)
			for _, b := range v {
				val = val * toInt64(b)
			}
			return val
		},
		"max": func(a interface{}, i ...interface{}) int64 {
			aa := toInt64(a)
			for _, b := range i {
				if bb := toInt64(b); bb > aa {
					aa = bb
				}
			}
			return aa
		},
		"min": func(a interface{}, i ...interface{}) int64 {
			aa := toInt64(a)
			for _, b := range i {
				if bb := toInt64(b); bb < aa {
					aa = bb
				}
			}
			return aa
		},
		"maxf": func(a interface{}, i ...interface{}) float64 {
			aa := toFloat64(a)
			for _, b := range i {
				aa = math.Max(aa, toFloat64(b))
			}
			return aa
		},
		"minf": func(a interface{}, i ...interface{}) float64 {
			aa := toFloat64(a)
			for _, b := range i {
				aa = math.Min(aa, toFloat64(b))
			}
			return aa
		},
		"floor": func(a interface{}) float64 { return math.Floor(toFloat64(a)) },
		"ceil":  func(a interface{}) float64 { return math.Ceil(toFloat64(a)) },
		"round": func(a interface{}, p int, rOpt ...float64) float64 {
			roundOn := .5
			if len(rOpt) > 0 {
				roundOn = rOpt[0]
			}
			val := toFloat64(a)
			places := toFloat64(p)
			var round float64
			pow := math.Pow(10, places)
			digit := pow * val
			_, div := math.Modf(digit)
			if div >= roundOn {
				round = math.Ceil(digit)
			} else {
				round = math.Floor(digit)
			}
			return round / pow
		},
		"default": func(d interface{}, given ...interface{}) interface{} {
			if empty(given) || empty(given[0]) {
				return d
			}
			return given[0]
		},
		"empty": empty,
		"coalesce": func(v ...interface{}) interface{} {
			for _, val := range v {
				if !empty(val) {
					return val
				}
			}
			return nil
		},
		"all": func(v ...interface{}) bool {
			for _, val := range v {
				if empty(val) {
					return false
				}
			}
			return true
		},
		"any": func(v ...interface{}) bool {
			for _, val := range v {
				if !empty(val) {
					return true
				}
			}
			return false
		},
		"ternary": func(vt interface{}, vf interface{}, v bool) interface{} {
			if v {
				return vt
			}
			return vf
		},
		"fromJson": func(v string) interface{} {
			var output interface{}
			_ = json.Unmarshal([]byte(v), &output)
			return output
		},
		"toJson": func(v interface{}) string {
			output, _ := json.Marshal(v)
			return string(output)
		},
		"toPrettyJson": func(v interface{}) string {
			output, _ := json.MarshalIndent(v, "", "  ")
			return string(output)
		},
		"toRawJson": func(v interface{}) string {
			buf := new(bytes.Buffer)
			enc := json.NewEncoder(buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(&v); err != nil {
				return ""
			}
			return strings.TrimSuffix(buf.String(), "\n")
		},
		"mustToJson": func(v interface{}) (string, error) {
			output, err := json.Marshal(v)
			if err != nil {
				return "", err
			}
			return string(output), nil
		},
		"typeOf": func(src interface{}) string { return fmt.Sprintf("%T", src) },
		"kindOf": func(src interface{}) string { return reflect.ValueOf(src).Kind().String() },
		"kindIs": func(target string, src interface{}) bool {
			return target == reflect.ValueOf(src).Kind().String()
		},
		"deepEqual": reflect.DeepEqual,
		"base":      path.Base,
		"dir":       path.Dir,
		"clean":     path.Clean,
		"ext":       path.Ext,
		"isAbs":     path.IsAbs,
		"b64enc":    func(v string) string { return base64.StdEncoding.EncodeToString([]byte(v)) },
		"b64dec": func(v string) string {
			data, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return err.Error()
			}
			return string(data)
		},
		"b32enc": func(v string) string { return base32.StdEncoding.EncodeToString([]byte(v)) },
		"b32dec": func(v string) string {
			data, err := base32.StdEncoding.DecodeString(v)
			if err != nil {
				return err.Error()
			}
			return string(data)
		},
		"list": func(v ...interface{}) []interface{} { return v },
		"dict": func(v ...interface{}) map[string]interface{} {
			dict := map[string]interface{}{}
			lenv := len(v)
			for i := 0; i < lenv; i += 2 {
				key := strval(v[i])
				if i+1 >= lenv {
					dict[key] = ""
					continue
				}
				dict[key] = v[i+1]
			}
			return dict
		},
		"get": func(d map[string]interface{}, key string) interface{} {
			if val, ok := d[key]; ok {
				return val
			}
			return ""
		},
		"set": func(d map[string]interface{}, key string, value interface{}) map[string]interface{} {
			d[key] = value
			return d
		},
		"unset": func(d map[string]interface{}, key string) map[string]interface{} {
			delete(d, key)
			return d
		},
		"hasKey": func(d map[string]interface{}, key string) bool {
			_, ok := d[key]
			return ok
		},
		"pluck": func(key string, d ...map[string]interface{}) []interface{} {
			res := []interface{}{}
			for _, dict := range d {
				if val, ok := dict[key]; ok {
					res = append(res, val)
				}
			}
			return res
		},
		"keys": func(dicts ...map[string]interface{}) []string {
			k := []string{}
			for _, dict := range dicts {
				for key := range dict {
					k = append(k, key)
				}
			}
			return k
		},
		"pick": func(dict map[string]interface{}, keys ...string) map[string]interface{} {
			res := map[string]interface{}{}
			for _, k := range keys {
				if v, ok := dict[k]; ok {
					res[k] = v
				}
			}
			return res
		},
		"omit": func(dict map[string]interface{}, keys ...string) map[string]interface{} {
			res := map[string]interface{}{}
			omit := make(map[string]bool, len(keys))
			for _, k := range keys {
				omit[k] = true
			}
			for k, v := range dict {
				if _, ok := omit[k]; !ok {
					res[k] = v
				}
			}
			return res
		},
		"values": func(dict map[string]interface{}) []interface{} {
			values := []interface{}{}
			for _, value := range dict {
				values = append(values, value)
			}
			return values
		},
		"first": func(list interface{}) interface{} {
			l := mustNoErr(listOf("find first", list)).([]interface{})
			if len(l) == 0 {
				return nil
			}
			return l[0]
		},
		"last": func(list interface{}) interface{} {
			l := mustNoErr(listOf("find last", list)).([]interface{})
			if len(l) == 0 {
				return nil
			}
			return l[len(l)-1]
		},
		"rest": func(list interface{}) []interface{} {
			l := mustNoErr(listOf("find rest", list)).([]interface{})
			if len(l) == 0 {
				return nil
			}
			return l[1:]
		},
		"initial": func(list interface{}) []interface{} {
			l := mustNoErr(listOf("find initial", list)).([]interface{})
			if len(l) == 0 {
				return nil
			}
			return l[:len(l)-1]
		},
		"append": func(list interface{}, v interface{}) []interface{} {
			l := mustNoErr(listOf("push", list)).([]interface{})
			return append(l, v)
		},
		"prepend": func(list interface{}, v interface{}) []interface{} {
			l := mustNoErr(listOf("prepend", list)).([]interface{})
			return append([]interface{}{v}, l...)
		},
		"reverse": func(v interface{}) []interface{} {
			l := mustNoErr(listOf("find reverse", v)).([]interface{})
			nl := make([]interface{}, len(l))
			for i := range l {
				nl[len(l)-i-1] = l[i]
			}
			return nl
		},
		"uniq": func(list interface{}) []interface{} {
			l := mustNoErr(listOf("find uniq", list)).([]interface{})
			dest := []interface{}{}
			for _, item := range l {
				if !inList(dest, item) {
					dest = append(dest, item)
				}
			}
			return dest
		},
		"compact": func(list interface{}) []interface{} {
			l := mustNoErr(listOf("compact", list)).([]interface{})
			nl := []interface{}{}
			for _, item := range l {
				if !empty(item) {
					nl = append(nl, item)
				}
			}
			return nl
		},
		"without": func(list interface{}, omit ...interface{}) []interface{} {
			l := mustNoErr(listOf("find without", list)).([]interface{})
			res := []interface{}{}
			for _, item := range l {
				if !inList(omit, item) {
					res = append(res, item)
				}
			}
			return res
		},
		"has": func(needle interface{}, haystack interface{}) bool {
			if haystack == nil {
				return false
			}
			l := mustNoErr(listOf("find has", haystack)).([]interface{})
			return inList(l, needle)
		},
		"concat": func(lists ...interface{}) interface{} {
			var res []interface{}
			for _, list := range lists {
				tp := reflect.TypeOf(list).Kind()
				switch tp {
				case reflect.Slice, reflect.Array:
					l2 := reflect.ValueOf(list)
					for i := 0; i < l2.Len(); i++ {
						res = append(res, l2.Index(i).Interface())
					}
				default:
					panic(fmt.Sprintf("Cannot concat type %s as list", tp))
				}
			}
			return res
		},
		"slice": func(list interface{}, indices ...interface{}) interface{} {
			tp := reflect.TypeOf(list).Kind()
			switch tp {
			case reflect.Slice, reflect.Array:
				l2 := reflect.ValueOf(list)
				l := l2.Len()
				if l == 0 {
					return nil
				}
				var start, end int
				if len(indices) > 0 {
					start = toInt(indices[0])
				}
				if len(indices) < 2 {
					end = l
				} else {
					end = toInt(indices[1])
				}
				return l2.Slice(start, end).Interface()
			default:
				panic(fmt.Errorf("list should be type of slice or array but %s", tp))
			}
		},
		"fail": func(msg string) (string, error) { return "", errors.New(msg) },
		"regexMatch": func(regex string, s string) bool {
			match, _ := regexp.MatchString(regex, s)
			return match
		},
		"regexFindAll": func(regex string, s string, n int) []string {
			r := regexp.MustCompile(regex)
			return r.FindAllString(s, n)
		},
		"regexFind": func(regex string, s string) string {
			r := regexp.MustCompile(regex)
			return r.FindString(s)
		},
		"regexReplaceAll": func(regex string, s string, repl string) string {
			r := regexp.MustCompile(regex)
			return r.ReplaceAllString(s, repl)
		},
		"regexReplaceAllLiteral": func(regex string, s string, repl string) string {
			r := regexp.MustCompile(regex)
			return r.ReplaceAllLiteralString(s, repl)
		},
		"regexSplit": func(regex string, s string, n int) []string {
			r := regexp.MustCompile(regex)
			return r.Split(s, n)
		},
		"regexQuoteMeta": regexp.QuoteMeta,
		"date":           func(fmt string, date interface{}) string { return dateInZone(fmt, date, "Local") },
		"dateInZone":     dateInZone,
		"htmlDate":       func(date interface{}) string { return dateInZone("2006-01-02", date, "Local") },
		"htmlDateInZone": func(date interface{}, zone string) string {
			return dateInZone("2006-01-02", date, zone)
		},
		"unixEpoch": func(date time.Time) string { return strconv.FormatInt(date.Unix(), 10) },
		"now":       time.Now,
	}
}

func untilStep(start, stop, step int) []int {
	v := []int{}
	if stop < start {
		if step >= 0 {
			return v
		}
		for i := start; i > stop; i += step {
			v = append(v, i)
		}
		return v
	}
	if step <= 0 {
		return v
	}
	for i := start; i < stop; i += step {
		v = append(v, i)
	}
	return v
}

// ---- Easegress's own template functions ----

func efToFloat64(v interface{}) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case float64:
		return x
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			panic(err)
		}
		return f
	case string:
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			panic(err)
		}
		return f
	}
	panic(fmt.Errorf("cannot convert %v to float64", v))
}

// mergeMaps returns a new map: dst deep-merged with src, src winning.
func mergeMaps(dst, src map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(dst)+len(src))
	for k, v := range dst {
		out[k] = v
	}
	for k, sv := range src {
		if dm, ok := out[k].(map[string]interface{}); ok {
			if sm, ok := sv.(map[string]interface{}); ok {
				out[k] = mergeMaps(dm, sm)
				continue
			}
		}
		out[k] = sv
	}
	return out
}

func easegressFuncs() template.FuncMap {
	return template.FuncMap{
		"addf": func(a, b interface{}) float64 { return efToFloat64(a) + efToFloat64(b) },
		"subf": func(a, b interface{}) float64 { return efToFloat64(a) - efToFloat64(b) },
		"mulf": func(a, b interface{}) float64 { return efToFloat64(a) * efToFloat64(b) },
		"divf": func(a, b interface{}) float64 {
			d := efToFloat64(b)
			if d == 0 {
				panic("divisor must not be zero")
			}
			return efToFloat64(a) / d
		},
		"log": func(level, msg string) string { return "" },
		"jsonEscape": func(s string) string {
			b, err := json.Marshal(s)
			if err != nil {
				panic(err)
			}
			return string(b[1 : len(b)-1])
		},
		"mergeObject": func(objs ...map[string]interface{}) map[string]interface{} {
			out := map[string]interface{}{}
			for _, o := range objs {
				out = mergeMaps(out, o)
			}
			return out
		},
	}
}
