// Registers the tasks that ship with the library. A new task is one file like this one: define
// the task, call `registerTask`, and import the file before looking tasks up.
import { gsm8k } from '../gsm8k/task.js';
import { ifeval } from '../ifeval/task.js';
import { math } from '../math/task.js';
import { mmlu, mmluCloze } from '../mc/task.js';
import { registerTask } from '../task.js';

for (const task of [gsm8k, math, ifeval, mmlu, mmluCloze]) registerTask(task);
