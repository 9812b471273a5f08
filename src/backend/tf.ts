/**
 * The one place tfjs is imported. @tensorflow/tfjs (not tfjs-core alone) because its
 * Node bundle registers the gradient functions; the wasm backend is registered here too.
 * Every module uses `import { tf } from './tf.js'`.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export { tf };

// PROD silences tfjs's console advice ("install the node backend") on the cpu backend;
// seg says itself which backend runs and why.
tf.env().set('PROD', true);
