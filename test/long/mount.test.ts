// `repo mount` as root: mount(2) with a /dev/fuse descriptor of its own (the suite is in mount-suite.ts).
import { describeMount, fuseMissing } from './mount-suite.js';

const notRoot = process.getuid?.() !== 0 ? 'not root (mount-user.test.ts covers mounting without root)' : undefined;
describeMount('repo mount as root (real FUSE)', fuseMissing() ?? notRoot);
