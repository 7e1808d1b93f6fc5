// Package dump prints a typed configuration as stable `path = value`
// lines, one per non-zero field, for golden files and the daemons'
// configuration dumps (`--dump-conf`). Both parsers use it, so the two
// dumps read alike.
package dump

import (
	"fmt"
	"io"
	"reflect"
	"sort"
)

// Write dumps v (usually a pointer to a config struct). Fields tagged
// `dump:"-"` are skipped (back-references that would repeat a subtree);
// values that implement fmt.Stringer (positions, addresses, durations) are
// printed with String.
func Write(w io.Writer, v any) {
	value(w, "", reflect.ValueOf(v))
}

var stringer = reflect.TypeOf((*fmt.Stringer)(nil)).Elem()

func value(w io.Writer, path string, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return
		}
		if v.Kind() == reflect.Pointer && v.Elem().Kind() != reflect.Struct {
			// *bool and friends: an explicit setting.
			value(w, path, v.Elem())
			if v.Elem().IsZero() {
				fmt.Fprintf(w, "%s = %v\n", path, v.Elem().Interface())
			}
			return
		}
		value(w, path, v.Elem())
		return
	case reflect.Struct:
		if v.Type().Implements(stringer) {
			if !v.IsZero() {
				fmt.Fprintf(w, "%s = %s\n", path, v.Interface().(fmt.Stringer).String())
			}
			return
		}
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || f.Tag.Get("dump") == "-" {
				continue
			}
			if f.Anonymous {
				value(w, path, v.Field(i))
				continue
			}
			name := f.Name
			if path != "" {
				name = path + "." + name
			}
			value(w, name, v.Field(i))
		}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Array && v.IsZero() {
			return
		}
		for i := 0; i < v.Len(); i++ {
			value(w, fmt.Sprintf("%s[%d]", path, i), v.Index(i))
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			value(w, fmt.Sprintf("%s[%v]", path, k), v.MapIndex(k))
		}
	case reflect.String:
		if v.Len() > 0 {
			fmt.Fprintf(w, "%s = %q\n", path, v.String())
		}
	default:
		if v.IsZero() {
			return
		}
		if v.Type().Implements(stringer) {
			fmt.Fprintf(w, "%s = %s\n", path, v.Interface().(fmt.Stringer).String())
			return
		}
		fmt.Fprintf(w, "%s = %v\n", path, v.Interface())
	}
}
