// Runs every project's tests through nx. (Bootstrap and broker handling come with tools/kafka.)
import { execFileSync } from 'node:child_process';

execFileSync('npx', ['nx', 'run-many', '-t', 'test', '--outputStyle=stream'], { stdio: 'inherit' });
