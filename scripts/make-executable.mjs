// npm links `bin` entries only when they are executable; tsc does not set the mode.
import { chmodSync } from 'node:fs';
chmodSync(new URL('../dist/cli/main.js', import.meta.url), 0o755);
