/** The oldest Node.js the packages run on (`engines.node` of every published package). */
export const MIN_NODE_VERSION = '22.12.0'
