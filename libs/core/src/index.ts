export * from './errors.ts';
export * from './duration.ts';
export * from './logger.ts';
export * from './lifecycle.ts';
export * from './clock.ts';
export * from './config/index.ts';
export * from './http.ts';
export * from './listen.ts';
