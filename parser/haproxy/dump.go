package haproxy

import (
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"time"
)

// Dump writes the typed configuration in a stable, line-oriented text form
// for golden files and `goproxy -c -dD`-style inspection: one `path = value`
// line per non-zero field, with maps sorted.
func Dump(w io.Writer, c *Config) {
	dumpValue(w, "", reflect.ValueOf(c).Elem())
}

func dumpValue(w io.Writer, path string, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return
		}
		dumpValue(w, path, v.Elem())
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(Pos{}) {
			p := v.Interface().(Pos)
			if p.Line > 0 {
				fmt.Fprintf(w, "%s = %s\n", path, p)
			}
			return
		}
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || f.Tag.Get("dump") == "-" {
				continue
			}
			name := f.Name
			if f.Anonymous {
				dumpValue(w, path, v.Field(i))
				continue
			}
			if path != "" {
				name = path + "." + name
			}
			dumpValue(w, name, v.Field(i))
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			dumpValue(w, fmt.Sprintf("%s[%d]", path, i), v.Index(i))
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			dumpValue(w, fmt.Sprintf("%s[%v]", path, k), v.MapIndex(k))
		}
	default:
		if v.IsZero() {
			return
		}
		val := v.Interface()
		switch x := val.(type) {
		case time.Duration:
			fmt.Fprintf(w, "%s = %s\n", path, x)
		case string:
			fmt.Fprintf(w, "%s = %q\n", path, x)
		default:
			fmt.Fprintf(w, "%s = %v\n", path, x)
		}
	}
}

// String returns the dump as a string.
func (c *Config) String() string {
	var b strings.Builder
	Dump(&b, c)
	return b.String()
}
