package listener

import (
	"os"
	"testing"

	"github.com/opsdeck/opsdeck/internal/sandbox"
)

func TestMain(m *testing.M) { os.Exit(sandbox.Main(m)) }
