package abxbus

import "testing"

// Issue 12 item 8: the source path of a function from its symbol name and file, whatever the build
// (-trimpath or not, dependency module versions, generic instances, package main).
func TestSourcePathIssue12(t *testing.T) {
	for _, c := range []struct{ name, file, want string }{
		{"github.com/acme/app/internal/users.(*Service).Create-fm", "/home/me/app/internal/users/service.go", "github.com/acme/app/internal/users/service.go"},
		{"github.com/acme/app/internal/users.Handle.func1", "github.com/acme/app/internal/users/h.go", "github.com/acme/app/internal/users/h.go"},
		{"github.com/dep/x/sub.F", "/root/go/pkg/mod/github.com/dep/x@v1.2.3/sub/f.go", "github.com/dep/x/sub/f.go"},
		{"github.com/dep/x/sub.F", "github.com/dep/x@v1.2.3/sub/f.go", "github.com/dep/x/sub/f.go"},
		{"gopkg.in/yaml%2ev3.Unmarshal", "/m/gopkg.in/yaml.v3@v3.0.1/yaml.go", "gopkg.in/yaml.v3/yaml.go"},
		{"github.com/a/b.On[go.shape.struct { X github.com/q/r.T }].func1", "/src/b/typed.go", "github.com/a/b/typed.go"},
		{"github.com/a/b_test.TestX.func2", "/src/b/x_test.go", "github.com/a/b/x_test.go"},
		{"github.com/a/b_test.F", "/src/b/x.go", "github.com/a/b_test/x.go"},
		{"main.handle", "/home/me/app/cmd/server/main.go", mainPackage() + "/main.go"},
		{"weird", `C:\src\app\h.go`, "h.go"},
	} {
		if got := sourcePath(c.name, c.file); got != c.want {
			t.Errorf("sourcePath(%q, %q) = %q, want %q", c.name, c.file, got, c.want)
		}
	}
}
