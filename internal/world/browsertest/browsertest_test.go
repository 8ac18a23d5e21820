package browsertest_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/umeme-wallet/umeme/internal/world/browsertest"
)

// page serves one HTML document.
func page(t *testing.T, html string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(html))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// The harness would be worthless if a page that throws passed: each kind of
// error it promises to catch is caught.
func TestBrowserHarnessCatchesConsoleErrors(t *testing.T) {
	ctx := browsertest.Start(t)
	url := page(t, `<!doctype html><link rel="icon" href="data:,"><title>t</title>
<script>
console.error("logged an error");
Promise.reject(new Error("nobody caught this rejection"));
setTimeout(() => { throw new Error("boom from a timer"); }, 0);
</script><img src="/missing.png" alt="">`)
	browsertest.Do(t, ctx, chromedp.Navigate(url))
	errs := browsertest.WaitConsoleErrors(t, ctx, 4)
	all := strings.Join(errs, "\n")
	for _, want := range []string{"logged an error", "nobody caught this rejection", "boom from a timer", "404"} {
		if !strings.Contains(all, want) {
			t.Errorf("console errors lack %q:\n%s", want, all)
		}
	}
}

// A wait does not ride on animation frames, which a headless browser draws
// when it gets round to it: here the page never gets one at all, and what
// it waits for comes after the first look.
func TestBrowserWaitWithoutAnimationFrames(t *testing.T) {
	ctx := browsertest.Start(t)
	url := page(t, `<!doctype html><link rel="icon" href="data:,"><title>no frames</title>
<script>
window.requestAnimationFrame = () => 0;
setTimeout(() => { document.body.dataset.ready = "true"; }, 300);
</script><body></body>`)
	browsertest.Do(t, ctx, chromedp.Navigate(url))
	if err := browsertest.WaitWithin(ctx, `document.body.dataset.ready === "true"`, 10*time.Second); err != nil {
		t.Fatalf("a page without animation frames was never seen ready: %v\n%s", err, browsertest.PageState(ctx))
	}
	if got := browsertest.PageState(ctx); !strings.Contains(got, `"ready":"true"`) || !strings.Contains(got, url) {
		t.Errorf("PageState = %s", got)
	}
}

func TestBrowserHarnessQuietPageAndScreenshot(t *testing.T) {
	ctx := browsertest.Start(t)
	url := page(t, `<!doctype html><link rel="icon" href="data:,"><title>quiet</title>
<p id="p">hello</p><script>console.log("a log line is not an error");</script>`)
	browsertest.Do(t, ctx, chromedp.Navigate(url))
	browsertest.WaitJS(t, ctx, "the paragraph", `document.getElementById("p").textContent === "hello"`)
	path := browsertest.Shot(t, ctx, "quiet")
	png, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("%s is not a PNG", path)
	}
	if errs := browsertest.TakeConsoleErrors(t, ctx); len(errs) != 0 {
		t.Errorf("a quiet page showed console errors: %q", errs)
	}
}

func TestArtifactsDirHonoursEnvironment(t *testing.T) {
	root := t.TempDir()
	t.Setenv("ARTIFACTS_DIR", root)
	dir := browsertest.ArtifactsDir(t)
	if want := filepath.Join(root, "TestArtifactsDirHonoursEnvironment"); dir != want {
		t.Errorf("ArtifactsDir = %s, want %s", dir, want)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Errorf("ArtifactsDir did not create %s: %v", dir, err)
	}
}
