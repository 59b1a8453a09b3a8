// Entry point of the bundle inside the single executable.
import { main } from './main.ts';

void main();
