/**
 * seg's cache folder, where downloaded weights and the checkpoints made from them live:
 * `SEG_HOME` when set, else the platform's cache folder (`$XDG_CACHE_HOME/seg` or
 * `~/.cache/seg` on Linux, `~/Library/Caches/seg` on macOS, `%LOCALAPPDATA%\seg` on Windows).
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export function segHome(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  const set = (name: string): string | undefined => {
    const value = env[name];
    return value !== undefined && value !== '' ? value : undefined;
  };
  const explicit = set('SEG_HOME');
  if (explicit !== undefined) return resolve(explicit);
  if (platform === 'win32') return join(set('LOCALAPPDATA') ?? join(homedir(), 'AppData', 'Local'), 'seg');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'seg');
  return join(set('XDG_CACHE_HOME') ?? join(homedir(), '.cache'), 'seg');
}
